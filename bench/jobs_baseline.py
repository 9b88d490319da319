"""bench/jobs baseline: a bare Flask GET answering a small JSON body, served by gunicorn like the service."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/api/v1/rectifications")
def rectifications():
    return jsonify(items=[], next_cursor=None)
