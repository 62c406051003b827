"""One module per ``hvppi`` subcommand, each with HELP, DESCRIPTION, ``add_arguments(parser)`` and ``run(args)``."""
