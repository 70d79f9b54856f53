"""Whether the standard AWS credential chain finds anything (the playground's agent choice)."""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError


def aws_credentials_found() -> bool:
    """True when boto3 would sign requests: env, profile, SSO, container or instance role."""
    try:
        return boto3.session.Session().get_credentials() is not None
    except BotoCoreError:  # a broken profile or SSO cache: as good as none, for this question
        return False
