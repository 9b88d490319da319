"""gunicorn settings (scripts/serve runs `gunicorn -c gunicorn.conf.py`); bind and workers come from the command line.

gunicorn reads the request line and headers before the app sees anything, and answers what it refuses there with
its own text/html 400/414/431 (not problem+json: the app is never called). The limits below let every request the API can
answer reach the app, which then refuses oversize bodies (413), unknown parameters (422) and the rest itself.
"""

# The request line (method, path, query string): gunicorn's largest finite value. The longest real query (a list
# with every filter and a cursor) is under 1 KB; a longer line is gunicorn's 414.
limit_request_line = 8190
# Header count and size: browsers, proxies (X-Forwarded-*) and a bearer token fit with room to spare.
limit_request_fields = 100
limit_request_field_size = 16380
# A /sync batch of 4 MiB from a slow tablet connection needs more than the default 30 s to arrive.
timeout = 60
