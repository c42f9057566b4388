"""`dfdetect serve`: a local web page and HTTP API for checking videos, with the model loaded once.

Pieces, one responsibility each:
- options.py: ServeOptions (the command's flags) and their checks;
- uploads.py: the private temporary folder, streaming multipart uploads to it (capped), and the
  content check (a video by its bytes, not by its name);
- confine.py: `--allow-paths DIR`, a requested path resolved and kept inside DIR;
- worker.py: the scoring worker process (Predictor, Grad-CAM strip, model information);
- jobs.py: the bounded job queue, the worker processes behind it, time limit and retention;
- app.py: the FastAPI application (routes, token, JSON errors); static/: the page at `/`;
- runner.py: start uvicorn with all of it (what `dfdetect serve` calls).

FastAPI and uvicorn are an optional extra (`pip install -e ".[serve]"`); nothing here is imported
by the rest of the package.
"""
