"""PlainLoader (api/schemas/plain.py), the shortcut past marshmallow in the intake fast path, against the schema it is
derived from: whenever it answers, the answer is exactly what Schema.load gives; refusals are always the schema's."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validates_schema

from api.ratings import RATING_IN, RATING_LOADER
from api.schemas.plain import PlainLoader
from service.vocab import CHANNELS

GOOD = [
    {"hall": "HZ-XC", "item": "SB-001", "window": "04", "score": 5, "channel": "miniprogram",
     "tags": ["EFFICIENT", "PATIENT"], "comment": "窗口人员很耐心"},
    {"rating_token": "t" * 43, "score": 1, "channel": "qrcode", "anonymous": False, "name": "张三",
     "phone": "13812345678", "tags": []},
    {"hall": "HZ-XC", "score": 3, "channel": "web", "comment": None, "item": None, "window": None, "staff_no": None},
]

anything = st.one_of(st.none(), st.booleans(), st.integers(-2, 8), st.floats(allow_nan=False), st.text(max_size=3),
                     st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=2), st.integers()))
texts = st.one_of(st.text(max_size=40), st.text(min_size=490, max_size=510), st.just(""), st.just("HZ-XC"))
values = {
    "rating_token": st.one_of(texts, st.text(min_size=120, max_size=140), anything),
    "hall": st.one_of(texts, anything), "item": st.one_of(texts, anything), "window": st.one_of(texts, anything),
    "staff_no": st.one_of(texts, anything), "comment": st.one_of(texts, anything),
    "name": st.one_of(texts, st.text(min_size=48, max_size=52), anything),
    "score": st.one_of(st.integers(-1, 7), st.booleans(), st.sampled_from(["5", 5.0, 4.5]), anything),
    "channel": st.one_of(st.sampled_from([*CHANNELS, "Web", "bogus", ""]), anything),
    "tags": st.one_of(st.lists(st.one_of(st.text(max_size=34), anything), max_size=12), anything),
    "anonymous": st.one_of(st.booleans(), st.sampled_from(["true", 1, 0, "on"]), anything),
    "phone": st.one_of(st.from_regex(r"\A1[0-9]{10}\Z"), st.from_regex(r"\A1[3-9][0-9]{8,10}\Z"), anything),
    "surprise": anything,
}
bodies = st.fixed_dictionaries({}, optional=values)


@pytest.mark.slow
@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(bodies)
def test_whatever_the_shortcut_answers_is_what_the_schema_loads(body):
    fast = RATING_LOADER.load(body)
    if fast is not None:
        assert fast == RATING_IN.load(body)


@pytest.mark.parametrize("body", GOOD)
def test_the_bodies_clients_send_take_the_shortcut(body):
    assert RATING_LOADER.load(body) == RATING_IN.load(body)


def test_refusals_and_other_types_are_left_to_the_schema():
    for body in ({**GOOD[0], "score": 6}, {**GOOD[0], "score": "5"}, {**GOOD[0], "score": True},
                 {**GOOD[0], "tags": ["x" * 33]}, {**GOOD[0], "unknown": 1},
                 {"hall": "HZ-XC", "channel": "web"}, {**GOOD[1], "phone": "23812345678"}):
        assert RATING_LOADER.load(body) is None
        with pytest.raises(ValidationError):
            RATING_IN.load(body)
    for truthy in ("true", 1):  # the schema accepts these, in its own way
        assert RATING_LOADER.load({**GOOD[0], "anonymous": truthy}) is None
        assert RATING_IN.load({**GOOD[0], "anonymous": truthy})["anonymous"] is True


def test_schemas_it_does_not_know_are_never_shortcut():
    class WithHook(Schema):
        score = fields.Integer()

        @validates_schema
        def check(self, data, **kwargs):
            raise ValidationError("no")

    class WithOtherField(Schema):
        when = fields.Date()

    assert not PlainLoader(WithHook()).usable and PlainLoader(WithHook()).load({"score": 1}) is None
    assert not PlainLoader(WithOtherField()).usable
