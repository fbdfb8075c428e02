"""`GET /api/resources?room=&region=`: the referral pathways a room's topic calls for."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from moderation.referrals import default_directory, topic_for_room
from moderation.region import resolve_region


async def resources(request: Request) -> Response:
    cfg = request.app.state.services.config
    slug = request.query_params.get("room", "general")
    room = cfg.rooms.get(slug)
    if room is None:
        return JSONResponse({"error": {"code": "not_found", "message": "no such room"}},
                            status_code=404)
    region_param = request.query_params.get("region")
    if region_param is not None and not (
            region_param == "*" or (len(region_param) == 2 and region_param.isalpha())):
        return JSONResponse({"error": {"code": "bad_request",
                                       "message": "region: an ISO 3166-1 alpha-2 code"}},
                            status_code=400)
    region = region_param.upper() if region_param else resolve_region(
        None, request.headers.get("accept-language"), cfg.moderation.default_region)
    chosen = default_directory().select(topic_for_room(slug, room.topic or None), region)
    return JSONResponse({"resources": [r.to_wire() for r in chosen]})
