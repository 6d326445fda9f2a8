"""CLI subcommands, one module per family; ``hpo.cli`` assembles them."""
