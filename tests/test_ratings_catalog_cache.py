"""The rating intake's cached catalog checks: a catalog change made through the service is seen at once."""
from tests.helpers import API, assert_problem


def test_catalog_writes_reach_the_rating_checks_at_once(client, tokens):
    admin = tokens["admin"]
    rate = {"hall": "HZ-XC", "score": 4, "channel": "qrcode"}

    # Each refusal below is remembered by the cache; the write that follows must drop it.
    assert "window" in assert_problem(client.post(f"{API}/ratings", json={**rate, "window": "99"}), 422)["errors"]
    assert client.post(f"{API}/halls/HZ-XC/windows", json={"code": "99", "name": "临时窗口"},
                       headers=admin).status_code == 201
    assert client.post(f"{API}/ratings", json={**rate, "window": "99"}).status_code == 201

    jn = {**rate, "hall": "HZ-XC-JN", "item": "SB-002"}
    assert "item" in assert_problem(client.post(f"{API}/ratings", json=jn), 422)["errors"]
    assert client.patch(f"{API}/items/SB-002", json={"halls": ["HZ", "HZ-XC", "HZ-XC-JN"]},
                        headers=admin).status_code == 200
    assert client.post(f"{API}/ratings", json=jn).status_code == 201

    praise_on_bad = {**rate, "score": 1, "tags": ["EFFICIENT"]}
    assert "tags" in assert_problem(client.post(f"{API}/ratings", json=praise_on_bad), 422)["errors"]
    assert client.patch(f"{API}/tags/EFFICIENT", json={"applies_to": "any"}, headers=admin).status_code == 200
    assert client.post(f"{API}/ratings", json=praise_on_bad).status_code == 201


def test_cache_can_be_switched_off(app_factory):
    app = app_factory(CATALOG_CACHE_SECONDS=0)
    with app.app_context():
        from service import catalog

        catalog.load_demo()
        client = app.test_client()
        assert client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 5, "channel": "web"}).status_code == 201
        assert "catalog_cache" not in app.extensions
