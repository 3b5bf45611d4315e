"""The warehouse gateway: approved data only, for authenticated project members, as Arrow."""

from secure_bubble.gateway.app import ARROW_STREAM, GatewayContext, make_app
from secure_bubble.gateway.extract import approved_project, extract
from secure_bubble.gateway.hub_tokens import Caller, HubTokenValidator

__all__ = ["ARROW_STREAM", "Caller", "GatewayContext", "HubTokenValidator", "approved_project", "extract",
           "make_app"]
