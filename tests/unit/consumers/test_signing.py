from __future__ import annotations

import pytest

from alertstream.consumers.signing import SigningSecret, sign_headers, signature, verify

# The Standard Webhooks reference test vector.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_matches_the_spec_test_vector() -> None:
    assert signature(SigningSecret.parse(SPEC_SECRET), SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIG


def test_headers_carry_one_signature_per_secret_for_rotation() -> None:
    other = SigningSecret.parse("whsec_dGhpcyBpcyB0aGUgbmV3IHNlY3JldCBrZXkh")
    headers = sign_headers(SPEC_ID, SPEC_TS, SPEC_BODY, [SigningSecret.parse(SPEC_SECRET), other])
    assert headers["webhook-id"] == SPEC_ID
    assert headers["webhook-timestamp"] == str(SPEC_TS)
    sigs = headers["webhook-signature"].split(" ")
    assert sigs[0] == SPEC_SIG
    assert len(sigs) == 2
    assert sigs[1].startswith("v1,")
    assert sigs[1] != SPEC_SIG


def test_signature_changes_with_timestamp_body_and_id() -> None:
    s = SigningSecret.parse(SPEC_SECRET)
    base = signature(s, SPEC_ID, SPEC_TS, SPEC_BODY)
    assert signature(s, SPEC_ID, SPEC_TS + 1, SPEC_BODY) != base
    assert signature(s, SPEC_ID, SPEC_TS, SPEC_BODY + b" ") != base
    assert signature(s, SPEC_ID + "x", SPEC_TS, SPEC_BODY) != base


def test_no_secret_means_no_signature_header() -> None:
    assert set(sign_headers("msg_1", 1, b"{}", [])) == {"webhook-id", "webhook-timestamp"}


@pytest.mark.parametrize("bad", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_***not base64***", "whsec_c2hvcnQ="])
def test_bad_secrets_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValueError, match="secret") as err:
        SigningSecret.parse(bad)
    assert bad.removeprefix("whsec_") not in str(err.value)


def test_secret_repr_is_masked() -> None:
    s = SigningSecret.parse(SPEC_SECRET)
    assert repr(s) == "SigningSecret(***)"
    assert "MfKQ" not in repr([s])


def test_id_with_separator_is_refused() -> None:
    with pytest.raises(ValueError, match="webhook-id"):
        sign_headers("a.b", 1, b"", [])


def test_verify_accepts_the_spec_vector_and_any_rotated_secret() -> None:
    spec = SigningSecret.parse(SPEC_SECRET)
    other = SigningSecret.parse("whsec_dGhpcyBpcyB0aGUgbmV3IHNlY3JldCBrZXkh")
    sigs = f"v1,bm90IGl0 {SPEC_SIG}"
    assert verify([spec], SPEC_ID, str(SPEC_TS), SPEC_SIG, SPEC_BODY, now=SPEC_TS)
    assert verify([other, spec], SPEC_ID, str(SPEC_TS), sigs, SPEC_BODY, now=SPEC_TS + 299)


@pytest.mark.parametrize(
    ("msg_id", "ts", "sig", "body", "now"),
    [
        (SPEC_ID, str(SPEC_TS), SPEC_SIG, b'{"test": 2432232315}', SPEC_TS),  # body changed
        ("msg_other", str(SPEC_TS), SPEC_SIG, SPEC_BODY, SPEC_TS),  # id changed
        (SPEC_ID, str(SPEC_TS), SPEC_SIG, SPEC_BODY, SPEC_TS + 301),  # stale: a replayed request
        (SPEC_ID, str(SPEC_TS), SPEC_SIG, SPEC_BODY, SPEC_TS - 301),  # from the future
        (SPEC_ID, "not-a-number", SPEC_SIG, SPEC_BODY, SPEC_TS),
        (SPEC_ID, str(SPEC_TS), SPEC_SIG.replace("v1,", "v2,"), SPEC_BODY, SPEC_TS),  # unknown version
        (SPEC_ID, str(SPEC_TS), "", SPEC_BODY, SPEC_TS),
    ],
)
def test_verify_rejects_tampered_stale_and_unsigned(msg_id: str, ts: str, sig: str, body: bytes, now: int) -> None:
    assert not verify([SigningSecret.parse(SPEC_SECRET)], msg_id, ts, sig, body, now=now)
