"""A testing kit for plugin authors: the contract suites hpo's own backends and object stores
pass, to run against a new one (as Optuna ships its storage suite in ``optuna.testing``).

What ships, and why:

- :mod:`hpo.testing.backend_contract`: ``BackendContract``, the behaviour every backend must
  have (see :mod:`hpo.backends.base`): success, a failing trainer, ``find`` by name,
  idempotent ``terminate``, a restarted controller re-attaching, bulk ``poll``. A test module
  subclasses it and gives a ``harness`` fixture (the ``Harness`` protocol).
- :mod:`hpo.testing.contract_trainer`: the trainer those jobs run, its behaviour chosen by
  ``HPO_TEST_PROGRAM`` (``succeed``, ``fail``, ``hang``, ...); start it as
  ``[sys.executable, str(CONTRACT_TRAINER)]``, or by that path on the machine that runs jobs.
- :mod:`hpo.testing.store_contract`: ``StoreContract``, the behaviour every object store must
  have (see :mod:`hpo.store.base`); a test module subclasses it and gives an empty ``store``.

A backend's suite, in the plugin's tests (``tests/test_local_backend.py`` is hpo's own)::

    from hpo.testing import CONTRACT_TRAINER
    from hpo.testing.backend_contract import BackendContract

    class TestMyBackend(BackendContract):
        @pytest.fixture
        def harness(self, tmp_path):
            return MyHarness(tmp_path, [sys.executable, str(CONTRACT_TRAINER)])

Both suites need pytest (``pip install 'hpo[testing]'``); call
``pytest.register_assert_rewrite("hpo.testing")`` in your ``conftest.py`` for pytest's
detailed assertion messages. Everything else hpo's own suite uses (the fake AWS Batch,
moto helpers, price stubs, a PostgreSQL fixture) is specific to hpo's backends and stays in
the repository's ``tests/``, out of the wheel.
"""

from pathlib import Path

CONTRACT_TRAINER = Path(__file__).with_name("contract_trainer.py")

__all__ = ["CONTRACT_TRAINER"]
