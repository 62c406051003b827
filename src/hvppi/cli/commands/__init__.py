"""One module per ``hvppi`` subcommand, each with ``add_arguments(parser)`` and ``run(args)``."""
