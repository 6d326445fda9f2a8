"""The smallest trainer: the sum of the squares of the numeric params."""

from hpo import worker

trial = worker.current()
trial.finish(sum(float(v) ** 2 for v in trial.params.values() if isinstance(v, int | float)))
