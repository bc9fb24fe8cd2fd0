"""The desk's security at the HTTP level (SQLite, no OCR: jobs are recorded, not run):
CSRF on every state-changing route, authorization on every case route, the login rate
limit, cookie flags, bounded uploads that leave nothing half-written, and logs."""
from __future__ import annotations

import io
import logging
import re

import pytest
from PIL import Image
from starlette.testclient import TestClient

from desk_support import SAMPLE, add_user, csrf_of, huge_png
from evidence.desk import casefiles, security
from evidence.desk.app import create_app
from evidence.desk.config import DeskConfig
from evidence.desk.jobs import LocalRunner
from evidence.errors import InputError

PASSWORD = "correct horse battery"


class NoRun(LocalRunner):
    def dispatch(self, job_id: int) -> None:
        pass


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data = tmp_path_factory.mktemp("desk")
    for email, role in (("dev@example.com", "developer"), ("other@example.com", "developer"),
                        ("admin@example.com", "admin")):
        add_user(data, email, role, PASSWORD)
    cfg = DeskConfig(data)
    app = create_app(cfg, NoRun(cfg))
    return cfg, app


def login(http, email, password=PASSWORD):
    r = http.get("/login")
    return http.post("/login", data={"csrf": csrf_of(r.text), "email": email, "password": password})


@pytest.fixture(scope="module")
def case_id(setup):
    cfg, app = setup
    with TestClient(app) as http:
        login(http, "dev@example.com")
        token = csrf_of(http.get("/cases").text)
        r = http.post("/cases/new", data={"csrf": token, "client_name": "Jane Cooper",
                                          "client_email": "jane.cooper@example.com"})
        cid = int(str(r.url).rsplit("/", 1)[1])
        png = (SAMPLE / "screenshots" / "IMG_4471.png").read_bytes()
        r = http.post(f"/cases/{cid}/upload", files=[("files", ("a.png", png, "image/png"))],
                      headers={"x-csrf-token": token, "accept": "application/json"})
        assert r.json()["stored"] == ["a.png"]
        return cid


def _urls(app, method, case_id):
    for route in app.routes:
        if method in getattr(route, "methods", ()):
            yield (route.path.replace("{case_id:int}", str(case_id)).replace("{shot_id:int}", "1")
                   .replace("{job_id:int}", "1").replace("{page:int}", "1")
                   .replace("{user_id:int}", "1").replace("{doc_id:int}", "1"))


def test_every_post_without_its_csrf_token_is_refused(setup, case_id):
    cfg, app = setup
    posts = list(_urls(app, "POST", case_id))
    assert len(posts) >= 15
    with TestClient(app) as http:
        login(http, "admin@example.com")
        good = csrf_of(http.get("/cases").text)
        for url in posts:
            for token in (None, "0" * 64):
                data = {"version": "1", "kind": "check", "comment": "x"}
                if token:
                    data["csrf"] = token
                r = http.post(url, data=data)
                assert r.status_code == 403 and "CSRF" in r.text, (url, r.status_code)
        # the same form with its token goes through
        assert http.post(f"/cases/{case_id}/jobs", data={"csrf": good, "kind": "check"}).status_code == 200
    with TestClient(app) as anon:  # and signing in needs it too
        r = anon.post("/login", data={"email": "dev@example.com", "password": PASSWORD})
        assert r.status_code == 403


def test_a_developer_gets_403_on_every_route_of_another_developers_case(setup, case_id):
    cfg, app = setup
    with TestClient(app) as http:
        login(http, "other@example.com")
        token = csrf_of(http.get("/cases").text)
        assert f'href="/cases/{case_id}"' not in http.get("/cases").text
        for url in _urls(app, "GET", case_id):
            if f"/cases/{case_id}" in url:
                assert http.get(url).status_code == 403, url
        for url in _urls(app, "POST", case_id):
            if f"/cases/{case_id}" in url:
                r = http.post(url, data={"csrf": token, "version": "1", "kind": "check"})
                assert r.status_code == 403, url
        for url in ("/queue", "/users"):  # admin pages
            assert http.get(url).status_code == 403


def test_a_ticket_link_must_be_http(setup):
    cfg, app = setup
    with TestClient(app) as http:
        login(http, "dev@example.com")
        token = csrf_of(http.get("/cases").text)
        r = http.post("/cases/new", data={"csrf": token, "client_name": "X",
                                          "client_email": "x@example.com",
                                          "ticket": "javascript:alert(document.cookie)"})
        assert r.status_code == 400 and "http" in r.text


def test_signed_out_requests_go_to_the_login_page(setup, case_id):
    cfg, app = setup
    with TestClient(app) as http:
        r = http.get(f"/cases/{case_id}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert http.get(f"/cases/{case_id}/status", headers={"accept": "application/json"}).status_code == 401
        assert http.get("/healthz").json() == {"ok": True}


def test_session_cookie_flags_and_secure_behind_https(setup):
    cfg, app = setup
    with TestClient(app, base_url="https://desk.example") as http:
        r = login(http, "dev@example.com")
        cookie = next(h for h in r.history[0].headers.get_list("set-cookie")
                      if h.startswith(security.SESSION_COOKIE))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
        assert "content-security-policy" in r.headers
    with TestClient(app) as http:
        r = login(http, "dev@example.com")
        cookie = next(h for h in r.history[0].headers.get_list("set-cookie")
                      if h.startswith(security.SESSION_COOKIE))
        assert "HttpOnly" in cookie and "Secure" not in cookie


def test_sign_in_is_rate_limited_and_logs_hold_no_secret(setup, caplog):
    cfg, app = setup
    caplog.set_level(logging.DEBUG)
    with TestClient(app) as http:
        codes = [login(http, "admin@example.com", "wrong password!").status_code for _ in range(6)]
        assert codes[:5] == [401] * 5 and codes[5] == 429
        # the right password is refused too while the limit holds
        assert login(http, "admin@example.com").status_code == 429
    with cfg.db.session() as s:
        app.state.desk.limiter.reset(s, "ip:testclient", "email:admin@example.com")
        s.commit()
    with TestClient(app) as http:
        r = login(http, "admin@example.com")
        assert r.status_code == 200
        token = http.cookies.get(security.SESSION_COOKIE)
    assert token and token not in caplog.text and PASSWORD not in caplog.text
    with cfg.db.session() as s:  # the database keeps only the token's hash
        from evidence.desk.models import LoginSession
        assert s.get(LoginSession, token) is None
        assert s.get(LoginSession, security.token_hash(token)) is not None


def test_bad_uploads_are_refused_with_a_message_and_leave_nothing(setup, case_id):
    cfg, app = setup
    folder = next((cfg.data / "cases").iterdir())
    before = sorted(p.name for p in (folder / "screenshots").iterdir())
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with TestClient(app) as http:
        login(http, "dev@example.com")
        token = csrf_of(http.get("/cases").text)
        files = [("files", ("notes.txt", b"just text", "text/plain")),
                 ("files", ("huge.png", huge_png(), "image/png")),
                 ("files", ("anim.gif", gif.getvalue(), "image/gif")),
                 ("files", ("cut.png", (SAMPLE / "screenshots" / "IMG_4480.png").read_bytes()[:5000],
                            "image/png"))]
        r = http.post(f"/cases/{case_id}/upload", files=files,
                      headers={"x-csrf-token": token, "accept": "application/json"})
    assert r.status_code == 400
    refused = {x["file"]: x["error"] for x in r.json()["refused"]}
    assert "not an image" in refused["notes.txt"]
    assert "too large" in refused["huge.png"] and "50 Mpx limit" in refused["huge.png"]
    assert "GIF" in refused["anim.gif"]
    assert "truncated" in refused["cut.png"] or "decode" in refused["cut.png"]
    assert sorted(p.name for p in (folder / "screenshots").iterdir()) == before
    assert list(cfg.tmp_dir.iterdir()) == []


def test_an_upload_cut_off_half_way_leaves_nothing(setup, tmp_path):
    cfg, _ = setup

    class CutOff(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 20_000:
                raise ConnectionResetError("client went away")
            return super().read(min(n, 8192) if n and n > 0 else 8192)

    folder = tmp_path / "case"
    data = (SAMPLE / "screenshots" / "IMG_4480.png").read_bytes()
    with pytest.raises(ConnectionResetError):
        casefiles.store_upload(folder, cfg.tmp_dir, "IMG_4480.png", CutOff(data))
    assert not (folder / "screenshots").exists() or not any((folder / "screenshots").iterdir())
    assert list(cfg.tmp_dir.iterdir()) == []
    with pytest.raises(InputError, match="over the"):
        casefiles.store_upload(folder, cfg.tmp_dir, "big.png",
                               io.BytesIO(b"\0" * (casefiles.MAX_FILE_BYTES + 1)))
    stored = casefiles.store_upload(folder, cfg.tmp_dir, "../../etc/Screenshot 2024-10-25 at 16.20.05.png",
                                    io.BytesIO(data))
    assert re.fullmatch(r"screenshots/[0-9a-f]{8}-Screenshot 2024-10-25 at 16.20.05\.png", stored.rel)
    assert (folder / stored.rel).read_bytes() == data


def test_users_add_refuses_duplicates_and_short_passwords(setup):
    import subprocess
    import sys
    from desk_support import ROOT
    cfg, _ = setup
    for email, pw, msg in (("dev@example.com", PASSWORD, "already"), ("new@example.com", "short", "10")):
        r = subprocess.run([sys.executable, "-m", "evidence.cli", "users", "add", email, "--role",
                            "developer", "--password-stdin", "--data", str(cfg.data)],
                           input=pw + "\n", text=True, capture_output=True, cwd=ROOT)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr


def test_a_zipped_case_folder_imports_and_a_hostile_zip_is_refused(setup, tmp_path):
    import tomllib
    import zipfile
    cfg, app = setup
    archive = tmp_path / "sample.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(SAMPLE.rglob("*")):
            if p.is_file() and p.name != "truth.json":
                z.write(p, f"sample-case/{p.relative_to(SAMPLE).as_posix()}")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("case/case.toml", "[client]\nname='A'\nemail='a@example.com'\n")
        z.writestr("../../escaped.txt", "x")
    with TestClient(app) as http:
        login(http, "dev@example.com")
        token = csrf_of(http.get("/cases").text)
        r = http.post("/cases/import", data={"csrf": token},
                      files={"archive": ("sample.zip", archive.read_bytes(), "application/zip")})
        assert r.status_code == 200
        assert "15 screenshot(s)" in r.text
        r2 = http.post("/cases/import", data={"csrf": token},
                       files={"archive": ("evil.zip", evil.read_bytes(), "application/zip")})
        assert r2.status_code == 400 and "outside the case folder" in r2.text
    assert not (cfg.tmp_dir.parent / "escaped.txt").exists()
    assert not any(cfg.tmp_dir.iterdir())
    folder = cfg.case_dir(_folder(cfg, r))
    toml = tomllib.loads((folder / "case.toml").read_text())
    by_file = {e["file"]: e for e in toml["screenshot"]}
    assert by_file["screenshots/Screenshot 2024-10-30 at 09.02.11.png"]["kind"] == "site"
    assert by_file["screenshots/IMG_4466.png"]["date"].isoformat().startswith("2024-10-10")
    assert by_file["screenshots/helpdesk/ticket-58213.png"]["note"]  # from the .txt beside it
    assert toml["dispute"]["id"] == "dp_1Q2w3E"


def _folder(cfg, response):
    from evidence.desk.models import Case
    case_id = int(re.search(r"/cases/(\d+)", str(response.url)).group(1))
    with cfg.db.session() as s:
        return s.get(Case, case_id).folder
