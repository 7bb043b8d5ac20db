"""Gunicorn's settings when it is started by hand from this folder, as
`gunicorn 'service.app:create_app()'`: the very ones `peerline web` uses (PORT,
WEB_CONCURRENCY, WEB_THREADS, and the journal's replay in each worker). Prefer `peerline web`,
which also checks the settings and the database first and sums the workers' metrics."""

from service.web.gunicorn_conf import *  # noqa: F403
