"""The staffing chart and emergency plan, generated from the staff records in the real
database: the admin places the staff, everyone reads it, the PDF lists the contact chain in
its order (read back with pypdfium2's text extraction)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import select

from cloud.audit.models import AuditEntry
from cloud.auth.models import Role
from cloud.auth.service import create_user
from cloud.db.engine import transaction
from tests.cloud.conftest import PASSWORD, Cloud
from tests.reports.test_approval import pdf_text

STAFF = [
    # username, role, display name, position, base, phone, chain order
    ("tanaka", Role.ADMIN, "田中 一郎", "manager", "本社（那覇市）", "098-111-0001", 1),
    ("higa", Role.TECH, "比嘉 次郎", "maintenance_base", "沖縄保守拠点", "098-111-0004", 3),
    ("sato", Role.OPERATOR, "佐藤 花子", "operator", "オペレーションセンター", "03-1111-0002", 2),
    ("kinjo", Role.TECH, "金城 三郎", "technician", "沖縄保守拠点", "098-111-0005", 4),
    ("yamada", Role.SUPPORT, "山田 桜", "support", "市役所 市民課", "098-111-0003", None),
]


async def _place_everyone(cloud: Cloud) -> dict[str, str]:
    async with transaction(cloud.app.state.sessions) as db:
        for username, role, name, *_ in STAFF:
            await create_user(
                db=db, username=username, password=PASSWORD, role=role, display_name=name
            )
    admin = await cloud.token(Role.ADMIN, "org-admin")
    headers = {"Authorization": f"Bearer {admin}"}
    for username, _, _, position, base, phone, order in STAFF:
        response = await cloud.client.put(
            "/api/organisation/positions",
            json={
                "username": username,
                "position": position,
                "base": base,
                "phone": phone,
                "chain_order": order,
                "duty": f"{username} の役割",
            },
            headers=headers,
        )
        assert response.status_code == 200, response.text
    return headers


async def test_the_document_lists_the_chain_in_order(cloud: Cloud) -> None:
    admin = await _place_everyone(cloud)
    operator = {"Authorization": f"Bearer {await cloud.token(Role.OPERATOR)}"}
    cloud.client.cookies.clear()
    listed = (await cloud.client.get("/api/organisation", headers=operator)).json()
    assert listed["chain"] == ["tanaka", "sato", "higa", "kinjo"]  # yamada is not in the chain
    positions = [m["position_label"] for m in listed["members"]]
    assert positions == ["責任者", "オペレーター", "支援員", "技術員", "保守拠点"]

    pdf = await cloud.client.get("/api/organisation/pdf", headers=operator)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    assert "運営体制図・緊急連絡体制" in text and "沖縄保守拠点" in text
    chain = text[text.index("緊急連絡網（連絡順位順）") : text.index("緊急時の対応")]
    found = [chain.index(name) for name in ("田中 一郎", "佐藤 花子", "比嘉 次郎", "金城 三郎")]
    assert found == sorted(found), chain
    assert "山田 桜" not in chain
    for phone in ("098-111-0001", "03-1111-0002", "098-111-0004", "098-111-0005"):
        assert phone in chain
    assert "山田 桜" in text  # in the organisation, though not in the chain

    page = await cloud.client.get("/organisation", headers=operator)
    assert page.status_code == 200
    html = page.text
    rows = html[html.index("chain-heading") :]
    assert [rows.index(n) for n in ("田中 一郎", "佐藤 花子", "比嘉 次郎", "金城 三郎")] == sorted(
        rows.index(n) for n in ("田中 一郎", "佐藤 花子", "比嘉 次郎", "金城 三郎")
    )

    # A change moves people in the chain; a removal takes them out; both are audited.
    moved = await cloud.client.put(
        "/api/organisation/positions",
        json={
            "username": "kinjo",
            "position": "technician",
            "base": "沖縄保守拠点",
            "phone": "098-111-0005",
            "chain_order": 1,
        },
        headers=admin,
    )
    assert set(moved.json()["chain"][:2]) == {"kinjo", "tanaka"}  # both called first
    assert moved.json()["chain"][2:] == ["sato", "higa"]
    removed = await cloud.client.delete(
        "/api/organisation/positions", params={"username": "sato"}, headers=admin
    )
    assert removed.status_code == 204
    assert (
        "sato" not in (await cloud.client.get("/api/organisation", headers=admin)).json()["chain"]
    )
    async with transaction(cloud.app.state.sessions) as db:
        actions = [
            (e.action, e.target)
            for e in await db.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("organisation.%"))
                .order_by(AuditEntry.id)
            )
        ]
    assert actions[:5] == [("organisation.set", f"staff:{s[0]}") for s in STAFF]
    assert actions[5:] == [
        ("organisation.set", "staff:kinjo"),
        ("organisation.remove", "staff:sato"),
    ]


async def test_only_the_admin_changes_it_and_phones_are_checked(cloud: Cloud) -> None:
    admin = {"Authorization": f"Bearer {await cloud.token(Role.ADMIN)}"}
    await cloud.make_user(Role.OPERATOR, "op-x")
    body = {"username": "op-x", "position": "operator", "base": "本社", "phone": "098-000-1234"}
    for role in (Role.CITY, Role.OPERATOR, Role.SUPPORT, Role.TECH):
        headers = {"Authorization": f"Bearer {await cloud.token(role)}"}
        denied = await cloud.client.put("/api/organisation/positions", json=body, headers=headers)
        assert denied.status_code == 403
        assert (await cloud.client.get("/api/organisation", headers=headers)).status_code == 200
    bad = await cloud.client.put(
        "/api/organisation/positions", json={**body, "phone": "call me"}, headers=admin
    )
    assert bad.status_code == 422
    nobody = await cloud.client.put(
        "/api/organisation/positions", json={**body, "username": "ghost"}, headers=admin
    )
    assert nobody.status_code == 404
    assert (
        await cloud.client.put("/api/organisation/positions", json=body, headers=admin)
    ).status_code == 200


async def test_the_cli_writes_the_pdf(cloud: Cloud, tmp_path: Path) -> None:
    await _place_everyone(cloud)
    url = str(cloud.app.state.settings.database_url)
    out = tmp_path / "org.pdf"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "madoguchi",
        "report",
        "organisation",
        "--out",
        str(out),
        env={**os.environ, "MADOGUCHI_CLOUD_DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()
    assert "緊急連絡網 4 人" in stdout.decode()
    assert "田中 一郎" in pdf_text(out.read_bytes())
