"""One interface for every model kind, and what runs over it: screens on one process or on a Dask cluster, their
output (TSV/Parquet, resumable parts) and pair scores. Nothing here knows which model family it runs.

:mod:`~hvppi.scoring.interface` (the :class:`~hvppi.scoring.interface.Scorer` protocol, settings, ranking),
:mod:`~hvppi.scoring.output` (parts folders, writers, the resume identity), :mod:`~hvppi.scoring.screen`
(one process) and :mod:`~hvppi.scoring.distributed` (tiles on Dask).
"""
