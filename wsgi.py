"""What gunicorn serves: `gunicorn wsgi:app`."""
import gc

from factory import create_app

app = create_app()
# What the app built at start (about 100,000 tracked objects) lives as long as the worker: frozen, it is left out of
# the collector's full passes, each of which otherwise stalls a worker for tens of milliseconds.
gc.freeze()
