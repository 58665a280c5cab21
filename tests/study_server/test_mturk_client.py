"""MTurk building blocks without a database: ExternalQuestion XML, CreateHIT parameters, fees, retries.

Every MTurk call goes through the real boto3 client and botocore's Stubber, so each request is
validated against the real mturk service model and its parameters are asserted; nothing is sent.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from study_server.recruiters.mturk.client import (
    LIVE_ENDPOINT,
    SANDBOX_ENDPOINT,
    MTurkError,
    call_with_retry,
    client_is_live,
    endpoint_for,
    make_client,
    paginate,
)
from study_server.recruiters.mturk.fees import (
    assignment_fee,
    bonus_cost,
    bonus_fee,
    hit_cost,
    parse_amount,
)
from study_server.recruiters.mturk.hits import (
    EXTERNAL_QUESTION_SCHEMA,
    QUAL_APPROVAL_RATE,
    QUAL_LOCALE,
    QUAL_NUMBER_APPROVED,
    HITConfigError,
    build_hit,
    external_question,
    request_token,
)

from .recruit_helpers import ASSIGNMENT, ASSIGNMENT2, HIT, QUAL, WORKER, WORKER2, assignment, stubbed_client

CONFIG = {
    "mturk": {
        "title": "Recognise traffic signs",
        "description": "Pick the sign class of small images.",
        "reward": "1.50",
        "max_assignments": 9,
        "duration_minutes": 20,
        "lifetime_hours": 48,
        "auto_approval_delay_hours": 24,
        "min_approval_rate": 97,
        "min_approved": 500,
        "locales": ["US", "ca"],
        "keywords": ["images", "signs"],
        "sandbox_qualification_type_id": QUAL,
    }
}


def test_external_question_escapes_the_url_and_uses_frame_height_0():
    url = "https://study.example.org/s/neg/?a=1&b=<2>"
    xml = external_question(url)
    root = ET.fromstring(xml)  # well-formed only if & and < were escaped
    ns = {"q": EXTERNAL_QUESTION_SCHEMA}
    assert root.find("q:ExternalURL", ns).text == url
    assert root.find("q:FrameHeight", ns).text == "0"
    assert "&amp;" in xml and "&lt;2&gt;" in xml
    with pytest.raises(HITConfigError, match="https"):
        external_question("http://study.example.org/s/neg/")


def test_build_hit_takes_everything_from_the_study_config():
    plan = build_hit("neg", CONFIG, "https://h.example/s/neg/", batch="b1")
    p = plan.params
    assert p["Reward"] == "1.50" and isinstance(p["Reward"], str)
    assert p["MaxAssignments"] == 9
    assert p["AssignmentDurationInSeconds"] == 20 * 60
    assert p["LifetimeInSeconds"] == 48 * 3600
    assert p["AutoApprovalDelayInSeconds"] == 24 * 3600
    assert p["Keywords"] == "images, signs"
    reqs = {r["QualificationTypeId"]: r for r in p["QualificationRequirements"]}
    assert reqs[QUAL_APPROVAL_RATE]["IntegerValues"] == [97]
    assert reqs[QUAL_NUMBER_APPROVED]["IntegerValues"] == [500]
    assert reqs[QUAL_LOCALE]["LocaleValues"] == [{"Country": "US"}, {"Country": "CA"}]
    assert reqs[QUAL]["Comparator"] == "DoesNotExist"
    assert p["UniqueRequestToken"] == request_token("neg", "b1")
    assert request_token("neg", "b1") != request_token("neg", "b2")
    assert len(p["UniqueRequestToken"]) <= 64
    # the live marketplace has its own qualification type: none configured -> no DoesNotExist
    live = build_hit("neg", CONFIG, "https://h.example/s/neg/", batch="b1", live=True)
    assert QUAL not in {r["QualificationTypeId"] for r in live.params["QualificationRequirements"]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reward": "1.505"}, "two decimals"),
        ({"reward": "-1"}, "more than"),
        ({"reward": "abc"}, "dollar amount"),
        ({"title": ""}, "title"),
        ({"max_assignments": 0}, "between"),
        ({"locales": "USA"}, "country codes"),
    ],
)
def test_build_hit_rejects_bad_settings(change, message):
    cfg = {"mturk": {**CONFIG["mturk"], **change}}
    with pytest.raises(HITConfigError, match=message):
        build_hit("neg", cfg, "https://h.example/s/neg/", batch="b1")
    with pytest.raises(HITConfigError, match="no 'mturk' settings"):
        build_hit("neg", {}, "https://h.example/s/neg/", batch="b1")


def test_fees_follow_mturk_pricing():
    # Hand-computed from https://requester.mturk.com/pricing: 20% on reward and bonus, +20% on the reward
    # for HITs with >= 10 assignments, at least $0.01, rounded half up to the cent.
    assert assignment_fee(Decimal("1.50"), 9) == Decimal("0.30")
    assert assignment_fee(Decimal("1.50"), 10) == Decimal("0.60")
    assert assignment_fee(Decimal("0.01"), 1) == Decimal("0.01")  # minimum fee
    assert assignment_fee(Decimal("0.03"), 1) == Decimal("0.01")  # 0.006 -> minimum $0.01
    assert assignment_fee(Decimal("0.53"), 1) == Decimal("0.11")  # 0.106 rounds up
    assert assignment_fee(Decimal("0.52"), 1) == Decimal("0.10")  # 0.104 rounds down
    assert bonus_fee(Decimal("2.00")) == Decimal("0.40")
    assert bonus_fee(Decimal("0.02")) == Decimal("0.01")
    cost = hit_cost(Decimal("1.50"), 20)  # 20 x 1.50 = 30.00 paid, 20 x 0.60 = 12.00 fees
    assert (cost.paid, cost.fees, cost.total) == (Decimal("30.00"), Decimal("12.00"), Decimal("42.00"))
    assert bonus_cost(Decimal("0.50")).describe() == "$0.50 to workers + $0.10 MTurk fees = $0.60"
    assert parse_amount("0.5") == Decimal("0.50")


def test_client_always_gets_an_explicit_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sandbox = make_client()
    assert sandbox.meta.endpoint_url == SANDBOX_ENDPOINT and not client_is_live(sandbox)
    live = make_client(live=True)
    assert live.meta.endpoint_url == LIVE_ENDPOINT and client_is_live(live)
    assert endpoint_for(False) == SANDBOX_ENDPOINT


def test_create_hit_retries_throttling_with_the_same_token():
    client, stub = stubbed_client()
    plan = build_hit("neg", CONFIG, "https://h.example/s/neg/", batch="b1")
    stub.add_client_error("create_hit", "ThrottlingException", "Rate exceeded", expected_params=plan.params)
    stub.add_client_error(
        "create_hit", "ServiceUnavailable", "try later", http_status_code=503, expected_params=plan.params
    )
    from .recruit_helpers import hit_response

    stub.add_response("create_hit", hit_response(), expected_params=plan.params)
    sleeps: list[float] = []
    out = call_with_retry(client, "create_hit", plan.params, sleep=sleeps.append, base_delay=1.0)
    assert out["HIT"]["HITId"] == HIT
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # exponential backoff
    stub.assert_no_pending_responses()


def test_retries_are_bounded_and_permanent_errors_are_not_retried():
    client, stub = stubbed_client()
    params = {"AssignmentId": ASSIGNMENT}
    for _ in range(3):
        stub.add_client_error(
            "approve_assignment", "ThrottlingException", "Rate exceeded", expected_params=params
        )
    sleeps: list[float] = []
    with pytest.raises(MTurkError, match="after 3 attempt"):
        call_with_retry(client, "approve_assignment", params, max_attempts=3, sleep=sleeps.append)
    assert len(sleeps) == 2
    stub.add_client_error(
        "approve_assignment",
        "RequestError",
        "This operation can be called with a status of: Submitted",
        expected_params=params,
    )
    with pytest.raises(MTurkError, match="after 1 attempt"):
        call_with_retry(client, "approve_assignment", params, sleep=sleeps.append)
    assert len(sleeps) == 2
    # MTurk also reports throttling as RequestError "... Rate exceeded": that one is retried
    stub.add_client_error("approve_assignment", "RequestError", "Rate exceeded", expected_params=params)
    stub.add_response("approve_assignment", {}, expected_params=params)
    assert call_with_retry(client, "approve_assignment", params, sleep=sleeps.append) == {}
    assert len(sleeps) == 3
    stub.assert_no_pending_responses()


def test_paginate_follows_next_token():
    client, stub = stubbed_client()
    base = {"HITId": HIT, "MaxResults": 1}
    stub.add_response(
        "list_assignments_for_hit",
        {"Assignments": [assignment(ASSIGNMENT, WORKER)], "NextToken": "page2", "NumResults": 1},
        expected_params=base,
    )
    stub.add_response(
        "list_assignments_for_hit",
        {"Assignments": [assignment(ASSIGNMENT2, WORKER2)], "NumResults": 1},
        expected_params={**base, "NextToken": "page2"},
    )
    items = paginate(client, "list_assignments_for_hit", base, "Assignments")
    assert [a["AssignmentId"] for a in items] == [ASSIGNMENT, ASSIGNMENT2]
    stub.assert_no_pending_responses()
