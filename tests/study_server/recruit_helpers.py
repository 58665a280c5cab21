"""Shared pieces of the recruiter tests: a real boto3 mturk client behind botocore's Stubber."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from botocore.stub import Stubber

from study_server.recruiters.mturk.client import LIVE_ENDPOINT, SANDBOX_ENDPOINT

WORKER = "A1WORKER0000001"
WORKER2 = "A2WORKER0000002"
HIT = "3HITID00000000000000000000001"
HIT2 = "3HITID00000000000000000000002"
ASSIGNMENT = "3ASSIGN0000000000000000000001"
ASSIGNMENT2 = "3ASSIGN0000000000000000000002"
QUAL = "3QUALTYPE000000000000000001"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def stubbed_client(live: bool = False) -> tuple[object, Stubber]:
    """The real mturk client (requests validated against the service model); nothing is sent."""
    client = boto3.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=LIVE_ENDPOINT if live else SANDBOX_ENDPOINT,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


def hit_response(hit_id: str = HIT, n: int = 9, reward: str = "1.50") -> dict:
    return {
        "HIT": {
            "HITId": hit_id,
            "HITTypeId": "3HITTYPE00000000000000000001",
            "Title": "Recognise traffic signs",
            "Reward": reward,
            "MaxAssignments": n,
            "HITStatus": "Assignable",
            "CreationTime": NOW,
        }
    }


def assignment(assignment_id: str, worker: str, hit_id: str = HIT, status: str = "Submitted") -> dict:
    return {
        "AssignmentId": assignment_id,
        "WorkerId": worker,
        "HITId": hit_id,
        "AssignmentStatus": status,
        "SubmitTime": NOW,
        "Answer": "<QuestionFormAnswers/>",
    }
