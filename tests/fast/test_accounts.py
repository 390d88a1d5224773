"""Several memories.ai accounts: each its own key, gate, pause, list rate and line."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY

from tests.conftest import deliver_outbox, member_of
from tests.factories import SubmissionFactory
from uploads.models import Membership, MemoriesAccount, Status, Submission, Team, UploadGate
from uploads.sending import queue
from uploads.sending import sender as sending
from uploads.tasks import check_connection, start_connection_check, waiting

WEST_KEY = "sk-mavi-west-SECRET-9Z7Q"


@pytest.fixture
def west(sandbox, team_b):
    """A second account on the sandbox, with its own key and videos; team B sends through it
    (team A stays on the default account, which follows the settings)."""
    sandbox.west = sandbox.add_account(WEST_KEY, "west", uploads_per_interval=100)
    account = MemoriesAccount.objects.create(
        name="west", api_base_url=sandbox.url, api_key=WEST_KEY, uploads_per_minute=6000
    )
    Team.objects.filter(pk=team_b.pk).update(account=account)
    return account


def queue_one(team, username):
    user = Membership.objects.filter(team=team, user__username=username).first()
    user = user.user if user else member_of(team, username)
    return SubmissionFactory(team=team, submitter=user)


def send_all(rounds=6):
    for _ in range(rounds):
        sending.send_next()


# --- the account ---------------------------------------------------------------------


def test_a_key_is_encrypted_at_rest_and_only_its_last_four_characters_are_shown(db):
    account = MemoriesAccount.objects.create(name="west", api_key=WEST_KEY)
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM uploads_memoriesaccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert WEST_KEY not in stored and "9Z7Q" not in stored
    assert MemoriesAccount.objects.get(pk=account.pk).api_key == WEST_KEY
    assert account.key_hint == "…9Z7Q"
    assert WEST_KEY not in str(account) + repr(account)


def test_a_new_team_is_put_on_the_default_account(db):
    team = Team.objects.create(name="New")
    assert team.account == MemoriesAccount.default()


def test_create_memories_account_reads_the_key_from_a_file_and_never_prints_it(db, tmp_path):
    key_file = tmp_path / "west.key"
    key_file.write_text(WEST_KEY + "\n")
    out = io.StringIO()
    call_command(
        "create_memories_account", "west", "--key-file", str(key_file),
        "--api-base-url", "https://west.example.com", "--uploads-per-minute", "2", stdout=out,
    )  # fmt: skip
    account = MemoriesAccount.objects.get(name="west")
    assert (account.api_key, account.api_base_url, account.per_minute()) == (
        WEST_KEY,
        "https://west.example.com",
        2,
    )
    assert "…9Z7Q" in out.getvalue() and WEST_KEY not in out.getvalue()
    assert UploadGate.objects.filter(account=account).exists()


@pytest.mark.parametrize(
    ("content", "args", "said"),
    [
        (None, [], "cannot be read"),
        ("\n", [], "is empty"),
        ("sk-mavi with space\n", [], "characters a key cannot have"),
        (WEST_KEY, ["--uploads-per-minute", "0"], "above 0"),
        (WEST_KEY, ["--api-base-url", "ftp://x"], "http(s) address"),
    ],
)
def test_create_memories_account_refuses_with_the_reason(db, tmp_path, content, args, said):
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content)
    with pytest.raises(CommandError, match=said.replace("(", r"\(").replace(")", r"\)")):
        call_command("create_memories_account", "west", "--key-file", str(key_file), *args)
    assert not MemoriesAccount.objects.filter(name="west").exists()


def test_create_team_puts_the_team_on_the_named_account(db):
    MemoriesAccount.objects.create(name="west")
    call_command("create_team", "Field Ops", "--account", "west", stdout=io.StringIO())
    assert Team.objects.get(name="Field Ops").account.name == "west"
    call_command("create_team", "Field Ops", "--account", "default", stdout=io.StringIO())
    assert Team.objects.get(name="Field Ops").account.name == "default"
    with pytest.raises(CommandError, match="No memories.ai account “nowhere”"):
        call_command("create_team", "Other", "--account", "nowhere")


# --- one gate per account --------------------------------------------------------------


def test_each_account_takes_upload_slots_at_its_own_gate(west, team_a):
    default = MemoriesAccount.default()
    UploadGate.get(default)
    UploadGate.objects.update(next_allowed_at="2000-01-01T00:00Z", free_at="2000-01-01T00:00Z")
    west.uploads_per_minute = 1
    west.save()
    assert UploadGate.take_slot(west)[0]
    assert not UploadGate.take_slot(west)[0]  # its next slot is a minute away
    assert UploadGate.take_slot(default)[0]  # the other account's is open
    assert UploadGate.reserve_departure(5, west)
    assert UploadGate.reserve_departure(5, default)  # west's request does not hold it
    assert not UploadGate.reserve_departure(5, west)


def test_each_account_has_its_own_list_rate(west, settings):
    settings.MEMORIES_LIST_PER_SECOND = 1
    default = MemoriesAccount.default()
    assert UploadGate.take_list_slot(west) is None
    assert UploadGate.take_list_slot(west) is not None  # a second later
    assert UploadGate.take_list_slot(default) is None


def test_both_accounts_send_with_their_own_key_and_scope(west, sandbox, team_a, team_b):
    a, b = queue_one(team_a, "alice"), queue_one(team_b, "oscar")
    send_all()
    for submission in (a, b):
        submission.refresh_from_db()
        assert submission.status == Status.PROCESSING
    assert a.video_no in sandbox.videos and a.video_no not in sandbox.west.videos
    assert b.video_no in sandbox.west.videos and b.video_no not in sandbox.videos
    assert b.unique_id == "bravo-scope"


def test_each_accounts_uploads_are_counted_under_its_name(west, team_a, team_b):
    def accepted(name):
        return (
            REGISTRY.get_sample_value(
                "memories_portal_uploads_total", {"account": name, "outcome": "accepted"}
            )
            or 0
        )

    before = {name: accepted(name) for name in ("default", "west")}
    queue_one(team_a, "alice"), queue_one(team_b, "oscar"), queue_one(team_b, "oscar2")
    send_all()
    assert accepted("default") - before["default"] == 1
    assert accepted("west") - before["west"] == 2


def test_memories_answers_are_counted_under_the_accounts_name(west, sandbox, team_a, team_b):
    def answered(name, code):
        labels = {"account": name, "code": code}
        return REGISTRY.get_sample_value("memories_portal_memories_answers_total", labels) or 0

    before = {name: answered(name, "0000") for name in ("default", "west")}
    queue_one(team_b, "oscar"), queue_one(team_b, "oscar2")
    send_all()
    sandbox.west.key_revoked = True
    sending.test_connection(west)  # a list_videos request, refused
    assert answered("west", "0000") - before["west"] == 2
    assert answered("default", "0000") - before["default"] == 0
    assert answered("west", "0401") >= 1


def test_places_and_send_times_are_counted_in_each_accounts_own_line(
    west, team_a, team_b, settings
):
    settings.MEMORIES_UPLOADS_PER_MINUTE = 1  # the default account's pace
    a1, a2 = queue_one(team_a, "alice"), queue_one(team_a, "alice")
    b1 = queue_one(team_b, "oscar")
    found = queue.places([a1.pk, a2.pk, b1.pk])
    assert [found[pk][0] for pk in (a1.pk, a2.pk, b1.pk)] == [1, 2, 1]
    assert found[b1.pk][1] < found[a2.pk][1]  # west's first goes now, not after A's two


# --- an account-level answer pauses that account only ------------------------------------


def test_credits_out_on_one_account_pauses_it_while_the_other_keeps_sending(
    west, sandbox, team_a, team_b
):
    sandbox.west.credits_out = True
    b = queue_one(team_b, "oscar")
    a = queue_one(team_a, "alice")
    send_all()
    b.refresh_from_db()
    assert b.status == Status.QUEUED  # keeps its place
    gate = UploadGate.get(west)
    assert gate.paused and "0402" in gate.paused_reason and "west" in gate.paused_reason
    assert not UploadGate.get(MemoriesAccount.default()).paused
    a.refresh_from_db()
    assert a.status == Status.PROCESSING
    a2 = queue_one(team_a, "alice")
    send_all()
    a2.refresh_from_db()
    assert a2.status == Status.PROCESSING  # the default account goes on
    assert sandbox.west.count("0402") == 1  # a paused account sends nothing more
    b.refresh_from_db()
    assert b.status == Status.QUEUED


def test_a_pause_emails_superusers_and_the_accounts_managers_once_per_episode(
    west, mailbox, superuser, team_a, team_b
):
    member_of(team_b, "bianca", Membership.Role.MANAGER)
    member_of(team_a, "albert", Membership.Role.MANAGER)  # another account's manager
    UploadGate.pause("memories.ai refused the account “west” (0402): not enough points", west)
    UploadGate.pause("memories.ai refused the account “west” (0402): again", west)
    deliver_outbox()
    assert sorted(m["To"] for m in mailbox.messages) == ["bianca@example.com", "root@example.com"]
    assert "“west”" in mailbox.text(mailbox.messages[0])
    UploadGate.resume(west)
    UploadGate.pause("No credits left.", west)
    deliver_outbox()
    assert len(mailbox.to("root@example.com")) == 2


def test_resume_is_per_account(west, client, superuser):
    default = MemoriesAccount.default()
    UploadGate.pause("bad key", west)
    UploadGate.pause("no credits", default)
    client.force_login(superuser)
    response = client.post(reverse("sending_resume"), {"account": west.pk})
    assert response.status_code == 302
    assert not UploadGate.get(west).paused
    assert UploadGate.get(default).paused
    assert client.post(reverse("sending_resume"), {"account": "x"}).status_code == 400


def test_the_pause_banner_tells_the_accounts_people_and_its_reason_to_managers(
    west, client, team_a, team_b, alice, superuser
):
    UploadGate.pause("memories.ai refused the account “west” (0402): not enough points", west)
    reason = "not enough points"
    manager_b = member_of(team_b, "bianca", Membership.Role.MANAGER)
    member_b = member_of(team_b, "boris")
    seen = {}
    for user in (manager_b, member_b, alice, superuser):
        client.force_login(user)
        seen[user.username] = client.get(reverse("home")).content.decode()
    assert "“west” are paused" in seen["bianca"] and reason in seen["bianca"]
    assert "“west” are paused" in seen["boris"] and reason not in seen["boris"]
    assert "are paused" not in seen["alice"]  # her team sends through another account
    assert reason in seen["root"] and "Resume sending" in seen["root"]
    assert "Resume sending" not in seen["bianca"]


def test_a_refused_first_key_gives_way_to_the_second_and_sending_goes_on(west, sandbox, team_b):
    west.api_key, west.second_api_key = "sk-mavi-west-revoked-0000", WEST_KEY
    west.save()
    b = queue_one(team_b, "oscar")
    send_all()
    b.refresh_from_db()
    assert b.status == Status.PROCESSING
    west.refresh_from_db()
    assert west.api_key == WEST_KEY and not west.second_api_key
    assert not UploadGate.get(west).paused
    assert "second key" in b.events.order_by("id")[1].message


def test_a_key_that_cannot_be_decrypted_pauses_with_the_reason(west, team_b, settings):
    with connection.cursor() as cursor:  # as if FIELD_ENCRYPTION_KEY had changed
        cursor.execute(
            "UPDATE uploads_memoriesaccount SET api_key = %s WHERE id = %s",
            ["gAAAAABnot-a-token-this-key-can-open", west.pk],
        )
    queue_one(team_b, "oscar")
    send_all(2)
    assert "cannot be decrypted" in UploadGate.get(west).paused_reason


# --- the admin ----------------------------------------------------------------------------


def run_queued_connection_checks():
    """What the notifications worker does with the queued checks: run each, store its result."""
    for run in waiting(check_connection):
        run.claim("test-worker")
        run.set_successful(check_connection.call(**run.args_kwargs["kwargs"]))


def test_the_admin_never_shows_a_key_and_tests_the_connection_in_the_background(
    west, sandbox, client, superuser, django_capture_on_commit_callbacks
):
    client.force_login(superuser)
    change = reverse("admin:uploads_memoriesaccount_change", args=[west.pk])
    page = client.get(change).content.decode()
    assert WEST_KEY not in page and "…9Z7Q" in page
    assert "Not checked in the last week" in page
    listing = reverse("admin:uploads_memoriesaccount_changelist")
    assert WEST_KEY not in client.get(listing).content.decode()

    def test_connection():
        with django_capture_on_commit_callbacks(execute=True):
            said = client.post(
                listing, {"action": "test_connection", "_selected_action": [west.pk]}, follow=True
            ).content.decode()
        assert "Checking the connection of “west”" in said
        return said

    test_connection()
    [run] = waiting(check_connection)
    assert run.queue_name == "notifications"  # never a turn of the sender's queue
    assert run.args_kwargs == {"args": [], "kwargs": {"account_id": west.pk}}
    assert not sandbox.west.list_requests  # nothing asked during the admin's request
    assert "Checking…" in client.get(change).content.decode()
    test_connection()  # asked again while it waits: still one check
    assert waiting(check_connection).count() == 1

    run_queued_connection_checks()
    page = client.get(change).content.decode()
    assert "OK, checked at" in page and "memories.ai answered with key …9Z7Q" in page
    assert sandbox.west.list_requests == 1 and not sandbox.west.uploads

    sandbox.west.key_revoked = True
    test_connection()
    run_queued_connection_checks()
    page = client.get(change).content.decode()
    assert "Failed, checked at" in page and "(0401)" in page
    stored = DBTaskResult.objects.filter(task_path=check_connection.module_path)
    assert all(WEST_KEY not in json.dumps([r.args_kwargs, r.return_value]) for r in stored)
    assert WEST_KEY not in page


def test_a_connection_check_that_never_ran_says_so(
    west, client, superuser, time_machine, django_capture_on_commit_callbacks
):
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        start_connection_check(west.pk)
    time_machine.move_to(timezone.now() + timedelta(minutes=11))
    page = client.get(reverse("admin:uploads_memoriesaccount_change", args=[west.pk]))
    assert "never finished: is the notifications worker running?" in page.content.decode()


def test_saving_the_account_form_without_a_key_keeps_the_key(west, client, superuser):
    client.force_login(superuser)
    change = reverse("admin:uploads_memoriesaccount_change", args=[west.pk])
    response = client.post(
        change,
        {"name": "west", "api_base_url": west.api_base_url, "api_key": "",
         "second_api_key": "sk-mavi-next-1111", "uploads_per_minute": "2"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    west.refresh_from_db()
    assert (west.api_key, west.second_api_key, west.uploads_per_minute) == (
        WEST_KEY,
        "sk-mavi-next-1111",
        2,
    )


def test_the_team_dashboard_names_the_account_and_its_pace(west, client, team_b):
    manager_b = member_of(team_b, "bianca", Membership.Role.MANAGER)
    west.uploads_per_minute = 2
    west.save()
    client.force_login(manager_b)
    page = client.get(reverse("team_dashboard", args=[team_b.slug])).content.decode()
    assert "west" in page and "2 uploads a minute" in page
    assert WEST_KEY not in page


def test_a_submission_waits_only_for_its_own_accounts_backoff(west, team_b, settings):
    UploadGate.push_back(timedelta(hours=1), MemoriesAccount.default())
    b = queue_one(team_b, "oscar")
    send_all(2)
    assert Submission.objects.get(pk=b.pk).status == Status.PROCESSING


def test_rotating_the_field_encryption_key_keeps_every_stored_key_readable(settings):
    """docs/configuration.md: FIELD_ENCRYPTION_KEY=new,old encrypts with new, opens both."""
    from encrypted_fields.fields import EncryptedCharField

    def field(*keys):  # a fresh field: the library keeps its keys per field
        settings.SALT_KEY = list(keys)
        return EncryptedCharField()

    stored_before = field("old").get_prep_value(WEST_KEY)
    rotating = field("new", "old")
    assert rotating.to_python(stored_before) == WEST_KEY
    stored_after = rotating.get_prep_value(WEST_KEY)
    assert field("new").to_python(stored_after) == WEST_KEY
    # Without the old key the old value is not readable: it stays ciphertext, which the
    # sender refuses to send (test_a_key_that_cannot_be_decrypted_pauses_with_the_reason).
    assert field("new").to_python(stored_before) != WEST_KEY
