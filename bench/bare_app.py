"""Baseline: a bare Flask app answering a small constant JSON, the floor of an HTTP GET through gunicorn."""
from flask import Flask, jsonify

app = Flask(__name__)
BODY = {"rows": [{"key": "HZ", "ratings": 1, "bad_rate": 0.05}]}


@app.get("/api/v1/<path:anything>")
def anything(anything):
    return jsonify(BODY)
