"""The operator manual through the real database (SQLite and PostgreSQL): the approval
workflow with a returned version, the version in force, frozen submissions, roles, the FAQ
search, and the manual version a call records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth.models import Role
from cloud.db.engine import transaction
from cloud.manuals.demo import FAQ, SCRIPTS, seed_demo
from cloud.manuals.service import search_faq
from cloud.routing import service as routing
from cloud.routing.models import CallRecord, Procedure
from tests.cloud.conftest import Cloud
from tests.cloud.test_routing import operator, queue_call

STEPS = [{"title": "ごあいさつ", "body": "「お待たせしました。」"}]


def content(**overrides: Any) -> dict[str, Any]:
    scripts = {code.value: STEPS for code in Procedure}
    return {"change_note": "", "scripts": scripts, "faq": FAQ[:2], **overrides}


class Staff:
    def __init__(self, cloud: Cloud, tokens: dict[Role, str]) -> None:
        self.client, self.tokens = cloud.client, tokens

    async def __call__(
        self, role: Role, method: str, path: str, body: Any = None
    ) -> httpx.Response:
        return await self.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.tokens[role]}"}
        )


async def staff(cloud: Cloud) -> Staff:
    tokens = {role: await cloud.token(role) for role in Role}
    cloud.client.cookies.clear()
    return Staff(cloud, tokens)


async def in_force(as_: Staff) -> int | None:
    response = await as_(Role.OPERATOR, "GET", "/api/manuals/current")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    number: int = response.json()["number"]
    return number


async def test_draft_submit_return_redraft_approve(cloud: Cloud) -> None:
    as_ = await staff(cloud)
    first = await as_(Role.ADMIN, "POST", "/api/manuals", {"change_note": "初版"})
    assert first.status_code == 201, first.text
    assert first.json()["number"] == 1 and first.json()["state"] == "draft"

    # A draft must cover every procedure before it is submitted.
    partial = content(scripts={"health_insurance": STEPS})
    assert (await as_(Role.ADMIN, "PUT", "/api/manuals/1", partial)).status_code == 200
    refused = await as_(Role.ADMIN, "POST", "/api/manuals/1/submit")
    assert refused.status_code == 409 and "public_funds_account" in refused.text
    assert (await as_(Role.ADMIN, "PUT", "/api/manuals/1", content())).status_code == 200
    submitted = await as_(Role.ADMIN, "POST", "/api/manuals/1/submit")
    assert submitted.status_code == 200 and submitted.json()["state"] == "submitted"

    # Frozen once submitted: no edit, no second submission.
    edit = await as_(Role.ADMIN, "PUT", "/api/manuals/1", content(change_note="後から"))
    assert edit.status_code == 409 and "new draft" in edit.text
    assert (await as_(Role.ADMIN, "POST", "/api/manuals/1/submit")).status_code == 409
    assert await in_force(as_) is None

    # The city returns it with comments; a returned version is never approved.
    blank = await as_(Role.CITY, "POST", "/api/manuals/1/return", {"comment": " "})
    assert blank.status_code == 409
    returned = await as_(
        Role.CITY, "POST", "/api/manuals/1/return", {"comment": "更新申請の手順に返納の説明を"}
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["state"] == "returned"
    assert returned.json()["review_comment"] == "更新申請の手順に返納の説明を"
    assert (await as_(Role.CITY, "POST", "/api/manuals/1/approve")).status_code == 409
    assert await in_force(as_) is None

    # A new draft continues from the returned version; one draft at a time.
    second = await as_(Role.ADMIN, "POST", "/api/manuals", {"change_note": "指摘の反映"})
    assert second.status_code == 201
    assert second.json()["number"] == 2 and second.json()["based_on"] == 1
    assert second.json()["scripts"] == content()["scripts"]
    assert (await as_(Role.ADMIN, "POST", "/api/manuals", {})).status_code == 409
    fixed = content(change_note="指摘の反映")
    fixed["scripts"]["renewal"] = [*STEPS, {"title": "返納", "body": "古いカードを返納"}]
    assert (await as_(Role.ADMIN, "PUT", "/api/manuals/2", fixed)).status_code == 200
    assert (await as_(Role.ADMIN, "POST", "/api/manuals/2/submit")).status_code == 200
    assert await in_force(as_) is None  # submitted is not in force

    approved = await as_(Role.CITY, "POST", "/api/manuals/2/approve")
    assert approved.status_code == 200 and approved.json()["in_force"] is True
    assert await in_force(as_) == 2
    shown = (await as_(Role.OPERATOR, "GET", "/api/manuals/current")).json()
    renewal = next(s for s in shown["scripts"] if s["procedure"] == "renewal")
    assert renewal["label"] == "更新申請" and renewal["steps"][-1]["title"] == "返納"
    assert (await as_(Role.ADMIN, "PUT", "/api/manuals/2", fixed)).status_code == 409

    # Two more versions submitted; approving the newer one first makes the older stale.
    for number in (3, 4):
        assert (await as_(Role.ADMIN, "POST", "/api/manuals", {})).status_code == 201
        assert (await as_(Role.ADMIN, "POST", f"/api/manuals/{number}/submit")).status_code == 200
    assert await in_force(as_) == 2
    assert (await as_(Role.CITY, "POST", "/api/manuals/4/approve")).status_code == 200
    assert await in_force(as_) == 4
    stale = await as_(Role.CITY, "POST", "/api/manuals/3/approve")
    assert stale.status_code == 409 and "already in force" in stale.text
    assert (await as_(Role.CITY, "POST", "/api/manuals/3/return", {"comment": "不要"})).is_success

    listed = (await as_(Role.CITY, "GET", "/api/manuals")).json()
    assert [(v["number"], v["state"], v["in_force"]) for v in listed] == [
        (4, "approved", True),
        (3, "returned", False),
        (2, "approved", False),
        (1, "returned", False),
    ]
    one = (await as_(Role.ADMIN, "GET", "/api/manuals/1")).json()
    assert one["review_comment"] and one["scripts"]["health_insurance"] == STEPS
    assert (await as_(Role.ADMIN, "GET", "/api/manuals/99")).status_code == 404

    async with transaction(cloud.app.state.sessions) as db:
        audited = [
            (e.actor.rstrip("0123456789"), e.action, e.target)
            for e in await db.scalars(
                select(AuditEntry)
                .where(AuditEntry.target.in_(["manual:1", "manual:2"]))
                .order_by(AuditEntry.id)
            )
        ]
    assert audited == [
        ("admin", "manual.draft", "manual:1"),
        ("admin", "manual.edit", "manual:1"),
        ("admin", "manual.edit", "manual:1"),
        ("admin", "manual.submit", "manual:1"),
        ("city", "manual.return", "manual:1"),
        ("admin", "manual.draft", "manual:2"),
        ("admin", "manual.edit", "manual:2"),
        ("admin", "manual.submit", "manual:2"),
        ("city", "manual.approve", "manual:2"),
    ]


async def test_roles(cloud: Cloud) -> None:
    as_ = await staff(cloud)
    # The city does not draft, edit or submit; the contractor does not approve.
    assert (await as_(Role.CITY, "POST", "/api/manuals", {})).status_code == 403
    assert (await as_(Role.SUPPORT, "POST", "/api/manuals", {})).status_code == 403
    assert (await as_(Role.OPERATOR, "POST", "/api/manuals", {})).status_code == 403
    assert (await as_(Role.ADMIN, "POST", "/api/manuals", {})).status_code == 201
    assert (await as_(Role.CITY, "PUT", "/api/manuals/1", content())).status_code == 403
    assert (await as_(Role.ADMIN, "PUT", "/api/manuals/1", content())).status_code == 200
    assert (await as_(Role.CITY, "POST", "/api/manuals/1/submit")).status_code == 403
    assert (await as_(Role.ADMIN, "POST", "/api/manuals/1/submit")).status_code == 200
    for role in (Role.OPERATOR, Role.ADMIN, Role.SUPPORT, Role.TECH):
        assert (await as_(role, "POST", "/api/manuals/1/approve")).status_code == 403
        comment = {"comment": "no"}
        assert (await as_(role, "POST", "/api/manuals/1/return", comment)).status_code == 403
    # Operators read only the version in force: not the list, not a draft or submission.
    assert (await as_(Role.OPERATOR, "GET", "/api/manuals")).status_code == 403
    assert (await as_(Role.OPERATOR, "GET", "/api/manuals/1")).status_code == 403
    assert (await as_(Role.OPERATOR, "GET", "/api/manuals/current")).status_code == 404
    assert (await as_(Role.CITY, "POST", "/api/manuals/1/approve")).status_code == 200
    for role in (Role.OPERATOR, Role.SUPPORT, Role.CITY, Role.ADMIN):
        assert (await as_(role, "GET", "/api/manuals/current")).status_code == 200
    assert (await as_(Role.TECH, "GET", "/api/manuals/current")).status_code == 403
    # The page: city staff and admins; operators are refused.
    page = await as_(Role.OPERATOR, "GET", "/manuals")
    assert page.status_code == 403
    assert "下書きを作成する" in (await as_(Role.ADMIN, "GET", "/manuals")).text
    assert (await as_(Role.ADMIN, "POST", "/api/manuals", {})).status_code == 201
    assert (await as_(Role.ADMIN, "POST", "/api/manuals", {})).status_code == 409  # one draft
    admin_page = (await as_(Role.ADMIN, "GET", "/manuals")).text
    assert "第2版を市に提出する" in admin_page and "第1版（承認済み・現在有効）" in admin_page
    assert (await as_(Role.ADMIN, "POST", "/api/manuals/2/submit")).status_code == 200
    city_page = (await as_(Role.CITY, "GET", "/manuals")).text
    assert "第2版を承認する" in city_page and "市に提出する" not in city_page


async def test_faq_search_in_the_version_in_force(cloud: Cloud) -> None:
    as_ = await staff(cloud)
    assert (await as_(Role.OPERATOR, "GET", "/api/manuals/current/faq?q=x")).status_code == 404
    async with transaction(cloud.app.state.sessions) as db:
        seeded = await seed_demo(db)
        assert seeded is not None and seeded.number == 1
    async with transaction(cloud.app.state.sessions) as db:
        again = await seed_demo(db)  # a restarted demo adds nothing
        assert again is not None and again.number == 1

    async def search(q: str) -> list[str]:
        response = await as_.client.get(
            "/api/manuals/current/faq",
            params={"q": q},
            headers={"Authorization": f"Bearer {as_.tokens[Role.OPERATOR]}"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["number"] == 1
        return [hit["question"] for hit in response.json()["hits"]]

    assert len(await search("")) == len(FAQ) == 8
    pin = await search("暗証番号")
    assert pin[:2] == [FAQ[0]["question"], FAQ[1]["question"]]  # tagged first
    assert await search("暗証番号\u3000ロック") == [FAQ[0]["question"]]  # every word
    assert await search("顔写真") == ["顔写真が何度撮っても不適合になる"]
    assert await search("存在しない語") == []
    shown = (await as_(Role.SUPPORT, "GET", "/api/manuals/current")).json()
    assert [s["procedure"] for s in shown["scripts"]] == [p.value for p in Procedure]
    assert all(s["steps"] for s in shown["scripts"])
    assert set(SCRIPTS) == {p.value for p in Procedure}


def test_faq_search_normalises_width_and_case() -> None:
    entries = [
        {"question": "PIN の再設定", "answer": "市民課で。", "tags": []},
        {"question": "カードの更新", "answer": "ＰＩＮ は不要", "tags": ["pin"]},
    ]
    hits = search_faq(entries, "ｐｉｎ")
    assert [h.question for h in hits] == ["カードの更新", "PIN の再設定"]  # the tag counts most
    assert search_faq(entries, None)[0].question == "PIN の再設定"


async def test_a_call_records_the_manual_version_the_operator_had(cloud: Cloud) -> None:
    # Now, not a fixed time: the app's own router signs out operators whose heartbeat is stale.
    t0 = datetime.now(UTC)
    before = await operator(cloud, "op-before", available_at=t0)
    after = await operator(cloud, "op-after", available_at=t0)
    early = await queue_call(cloud, "k-early", t0)
    late = await queue_call(cloud, "k-late", t0 + timedelta(milliseconds=1))
    async with transaction(cloud.app.state.sessions) as db:
        await routing.accept(db=db, user=before, call_id=early, now=t0 + timedelta(seconds=1))
    async with transaction(cloud.app.state.sessions) as db:
        await seed_demo(db)
    async with transaction(cloud.app.state.sessions) as db:
        await routing.accept(db=db, user=after, call_id=late, now=t0 + timedelta(seconds=2))
    async with transaction(cloud.app.state.sessions) as db:
        versions = {
            c.call_id: c.manual_version
            for c in await db.scalars(
                select(CallRecord).where(CallRecord.call_id.in_([early, late]))
            )
        }
    assert versions == {early: None, late: 1}
