"""The masking module (spec 8), pure: each case a marketer must not see in clear, and a property test that no
e-mail address survives masking, wherever it sits in a rendered structure."""

from __future__ import annotations

import html
import json
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.console.masking import MASK, MaskingPolicy, personal_names_normalise
from apps.console.rendering import kv_table
from apps.datamarts.personal import DEFAULT_PERSONAL_PROPERTIES

POLICY = MaskingPolicy(personal_names=personal_names_normalise(DEFAULT_PERSONAL_PROPERTIES), secret=b"test-secret")


def test_an_address_keeps_its_shape_and_a_stable_tag():
    masked = POLICY.text("John.Doe@Example.com")
    assert masked.startswith(f"j{MASK}e@e{MASK}.com#")
    assert "doe" not in masked.lower()
    # Normalised before tagging: the same person, the same tag, however typed.
    assert POLICY.text(" john.doe@example.com").split("#")[1] == masked.split("#")[1]
    # Two people with the same initials and domain stay apart.
    assert POLICY.text("jane.dee@example.com").split("#")[1] != masked.split("#")[1]
    # Another installation (another secret) tags differently: the tag cannot be computed from a guess.
    other = MaskingPolicy(personal_names=frozenset(), secret=b"other")
    assert other.text("john.doe@example.com").split("#")[1] != masked.split("#")[1]


def test_addresses_are_masked_in_free_text_urls_and_account_ids():
    text = "write to jo@ex.org, or see https://shop.test/account?email=john%40example.com&x=1 (mailto:a%2540b.co)"
    masked = POLICY.text(text)
    assert "jo@ex.org" not in masked
    assert "john%40example.com" not in masked
    assert "a%2540b.co" not in masked
    assert "https://shop.test/account?email=" in masked  # the rest of the URL stays readable
    # The encoded and the plain form of one address carry the same tag.
    assert POLICY.text("john%40example.com").split("#")[1] == POLICY.text("john@example.com").split("#")[1]
    # An account id that is an address (a Segment userId, a Braze external_id).
    assert "@" in POLICY.text("alice@corp.example")
    assert "alice" not in POLICY.text("alice@corp.example")


def test_phone_identifiers_and_ip_addresses_are_masked():
    assert POLICY.text("phone:+33612345678").startswith(f"phone:{MASK}78#")
    masked = POLICY.text("from 203.0.113.7 and 2001:db8::1 at 12:30:45, version 1.2.3")
    assert "203.0.113.7" not in masked
    assert "2001:db8::1" not in masked
    assert "12:30:45" in masked
    assert "version 1.2.3" in masked
    assert POLICY.text("999.1.1.1") == "999.1.1.1"  # not an address


def test_personal_properties_are_masked_at_any_depth_whatever_their_type():
    profile = {
        "first_name": "John",
        "Last_Name": "Doe",
        "$email": "john@example.com",
        "age": 42,
        "address": {"street": "1 rue de la Paix", "city": "Paris", "zip": 75002},
        "orders": [{"shipping": {"postal_code": "69001", "phone": "+33612345678"}, "total": 12.5}],
        "note": "call 198.51.100.4",
    }
    masked = POLICY.value(profile)
    assert masked["first_name"] == MASK
    assert masked["Last_Name"] == MASK  # names compare case-insensitively
    assert masked["$email"].startswith(f"j{MASK}n@e{MASK}.com#")
    assert masked["age"] == 42
    assert masked["address"] == {"street": MASK, "city": MASK, "zip": MASK}  # the whole object is personal
    assert masked["orders"][0]["shipping"] == {"postal_code": MASK, "phone": MASK}
    assert masked["orders"][0]["total"] == 12.5
    assert "198.51.100.4" not in masked["note"]
    assert profile["first_name"] == "John"  # the input is left as it was


def test_the_policy_is_the_datamart_s_list():
    only_city = MaskingPolicy(personal_names=personal_names_normalise(["city"]), secret=b"s")
    masked = only_city.value({"first_name": "John", "address": {"city": "Paris"}})
    assert masked == {"first_name": "John", "address": {"city": MASK}}


def test_deep_documents_do_not_exhaust_the_stack():
    document: dict = {"email": "deep@example.com"}
    for _ in range(5000):
        document = {"x": document}
    masked = POLICY.value(document)
    for _ in range(5000):
        masked = masked["x"]
    assert masked["email"].startswith(f"d{MASK}p@")


emails = st.emails()
keys = st.text(min_size=1, max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10))


@st.composite
def with_email(draw: st.DrawFn) -> tuple[str, object]:
    """An address, and a JSON-like document that holds it somewhere: as a value, a key, inside free text, inside
    a URL (encoded or not), under a personal or an ordinary name, at any depth."""
    address = draw(emails)
    form = draw(st.sampled_from(["plain", "upper", "in text", "url", "url-encoded", "double-encoded", "key"]))
    carriers = {
        "plain": address,
        "upper": address.upper(),
        "in text": f"{draw(st.text(max_size=10))} {address} {draw(st.text(max_size=10))}",
        "url": f"https://shop.test/p?email={address}&ref=1",
        "url-encoded": f"https://shop.test/p?email={quote(address, safe='')}",
        "double-encoded": f"https://shop.test/p?u={quote(quote(address, safe=''), safe='')}",
        "key": address,
    }
    carrier = carriers[form]
    leaf: object = {carrier: draw(scalars)} if form == "key" else carrier
    document = draw(
        st.recursive(
            st.just(leaf),
            lambda inner: st.one_of(
                st.lists(st.one_of(inner, scalars), min_size=1, max_size=3).map(lambda xs: [*xs]),
                st.dictionaries(keys, st.one_of(inner, scalars), max_size=3).flatmap(
                    lambda d: st.sampled_from(["data", "email", "note"]).map(lambda k: {**d, k: None})
                ),
                st.tuples(st.sampled_from(["data", "email", "$email", "note", "traits"]), inner).map(
                    lambda kv: {kv[0]: kv[1]}
                ),
            ),
            max_leaves=6,
        )
    )
    return address, document


def survives(address: str, rendered: str) -> bool:
    lowered = rendered.lower()
    forms = {address, quote(address, safe=""), quote(quote(address, safe=""), safe="")}
    return any(form.lower() in lowered or html.escape(form).lower() in lowered for form in forms)


@settings(max_examples=400, deadline=None)
@given(with_email())
def test_no_generated_address_survives_any_rendering(case):
    address, document = case
    masked = POLICY.value(document)
    assert not survives(address, json.dumps(masked, ensure_ascii=False))
    assert not survives(address, str(kv_table(masked)))
