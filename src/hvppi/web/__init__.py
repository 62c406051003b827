"""A small local web page over the screening model: ``hvppi serve``.

``hvppi.web.jobs`` holds the job folder and the worker threads that screen submitted viral proteins;
``hvppi.web.app`` the FastAPI application (HTTP API and the page shipped in ``hvppi/web/static``);
``hvppi.web.alignment`` the alignment of a viral protein with its nearest training viral protein that a row shows.
FastAPI and uvicorn come with the ``web`` extra (``pip install 'hvppi[web]'``).
"""

from __future__ import annotations
