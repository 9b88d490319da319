"""Fixtures: a real database per run (a SQLite file, or a fresh PostgreSQL database), a fresh app per test."""
import os
import uuid
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("PII_KEY", Fernet.generate_key().decode())

from factory import create_app  # noqa: E402

BASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = BASE_URL.startswith("postgresql")


@contextmanager
def fresh_database(sqlite_path, prefix: str):
    """The URL of an empty database of its own: a SQLite file at sqlite_path, or on PostgreSQL a database created
    for it and dropped afterwards (the server keeps whatever earlier runs left behind)."""
    if not ON_POSTGRES:
        yield f"sqlite:///{sqlite_path}"
        return
    url = make_url(BASE_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def empty_database(tmp_path):
    """An empty database of the test's own (no schema), for the migration tests to build up step by step."""
    with fresh_database(tmp_path / "migrate.db", "hf_mig") as url:
        yield url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with fresh_database(tmp_path_factory.mktemp("db") / "test.db", "hf_test") as url:
        yield url


def make_app(database_url, **overrides):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATE_LIMIT_ANON_RATINGS": (1000, 60),
        "RATE_LIMIT_ANON_RATINGS_PER_IP": (5000, 60),
        "RATE_LIMIT_RECEIPT_READS": (5000, 60),
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def migrated(database_url):
    """The schema is built by the Alembic migrations, exactly as `flask db upgrade` builds it."""
    from flask_migrate import upgrade

    app = make_app(database_url)
    with app.app_context():
        upgrade()
        from models import db

        db.engine.dispose()
    return database_url


def _empty_all_tables():
    from models import db

    tables = [t.name for t in db.metadata.sorted_tables]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(tables):
            db.session.execute(text(f'DELETE FROM "{table}"'))
    db.session.commit()


@pytest.fixture
def app_factory(migrated):
    """Builds apps on the test database (for tests that need other settings); tables are emptied afterwards."""
    apps = []

    def factory(**overrides):
        app = make_app(migrated, **overrides)
        apps.append(app)
        return app

    yield factory
    from models import db

    for i, app in enumerate(apps):
        with app.app_context():
            if i == 0:
                _empty_all_tables()
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory):
    app = app_factory()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def demo(app):
    from service import catalog

    catalog.load_demo()
    return app


@pytest.fixture
def tokens(demo):
    """Bearer headers for one account of each role; staff_b works in another hall."""
    from service.accounts import create_account

    made = {}
    for key, role, hall in [("staff", "staff", "HZ-XC"), ("staff_b", "staff", "HZ-XC-HB"),
                            ("staff_jn", "staff", "HZ-XC-JN"), ("supervisor", "supervisor", "HZ-XC"),
                            ("supervisor_jn", "supervisor", "HZ-XC-JN"), ("admin", "admin", None)]:
        _, token = create_account(role=role, hall_code=hall, name=f"测试-{key}")
        made[key] = {"Authorization": f"Bearer {token}"}
    return made
