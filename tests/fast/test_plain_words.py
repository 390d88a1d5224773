"""What the pages say, as a first week reads them: each sentence true to the moment, one
question before a batch is cancelled, the cause of a failure rather than a list of them."""

import pytest
from django.urls import reverse

from tests.conftest import check_to_end, make_batch
from tests.factories import SubmissionFactory, UserFactory
from uploads.batches import service
from uploads.models import BatchRow, Event, Membership, Status, Submission
from uploads.tasks import cancel_batch, waiting

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("commit_callbacks_at_once")]
Row = BatchRow.State


def checked_batch(client, user, team, urls):
    return check_to_end(make_batch(client, user, team, urls="\n".join(urls)))


# --- a batch ----------------------------------------------------------------------------


def test_cancelling_a_batch_asks_first_and_a_post_without_the_answer_cancels_nothing(
    client, alice, team_a, clip_url
):
    batch = checked_batch(client, alice, team_a, [f"{clip_url}?{n}" for n in range(3)])
    service.confirm(batch, alice)
    client.force_login(alice)
    url = reverse("batch_cancel", args=[batch.pk])
    asked = client.get(url)
    assert asked.status_code == 200
    assert "Cancel the 3 waiting submissions of this batch?" in asked.content.decode()
    assert client.post(url).status_code == 400  # no answer: the question again
    assert not waiting(cancel_batch).exists()
    assert batch.submissions.filter(status=Status.QUEUED).count() == 3
    client.post(url, {"confirmed": "yes"})
    assert waiting(cancel_batch).exists()


def test_the_confirm_button_counts_what_each_tick_queues(client, alice, team_a, clip_url):
    earlier = f"{clip_url}?earlier"
    SubmissionFactory(team=team_a, submitter=alice, url=earlier, status=Status.PARSED)
    batch = checked_batch(client, alice, team_a, [f"{clip_url}?new", earlier])
    batch.rows.filter(line=1).update(state=Row.UNREACHABLE, problem="DNS: no such host.")
    client.force_login(alice)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert 'data-queue-none="0" data-queue-public="1" data-queue-again="1" data-queue-both="2"' in (
        page
    )
    assert service.confirm(batch, alice, confirm_public=True, send_again=True)["queued"] == 2


def test_a_batch_with_nothing_to_queue_says_so_not_queued_0(client, alice, team_a, clip_url):
    batch = checked_batch(client, alice, team_a, [f"{clip_url}?a"])
    batch.rows.update(state=Row.UNREACHABLE, problem="DNS: no such host.")
    client.force_login(alice)
    response = client.post(reverse("batch_confirm", args=[batch.pk]), follow=True)
    page = response.content.decode()
    assert "Queued 0" not in page
    assert '<li class="message message-warning">Nothing was queued' in page


def test_with_none_waiting_the_button_offers_only_to_leave_out_the_held(
    client, alice, team_a, clip_url, settings
):
    settings.MAX_WAITING_PER_PERSON = 1
    batch = checked_batch(client, alice, team_a, [f"{clip_url}?{n}" for n in range(3)])
    service.confirm(batch, alice)
    batch.submissions.update(status=Status.SENDING)  # the one let in is on its way
    client.force_login(alice)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "Cancel the 0 waiting" not in page
    assert ">Leave out the held ones</a>" in page
    assert 'class="badge badge-row-held"' in page


def test_a_queued_rows_why_is_its_submissions_not_the_old_check_note(
    client, alice, team_a, clip_url
):
    batch = checked_batch(client, alice, team_a, [f"{clip_url}?a"])
    batch.rows.update(state=Row.UNREACHABLE, problem="DNS: no such host (gone.example).")
    service.confirm(batch, alice, confirm_public=True)
    submission = batch.submissions.get()
    Submission.objects.filter(pk=submission.pk).update(
        status=Status.FAILED, error_message="memories.ai refused the file type."
    )
    client.force_login(alice)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "no such host" not in page
    assert "memories.ai refused the file type." in page


# --- a submission -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "told"),
    [
        ("link_died", "The link stopped working while it waited for its turn"),
        ("refused", "memories.ai refused the upload: Unsupported format."),
        ("gave_up", "Sending it kept failing (5 attempts), and the portal gave up."),
        ("marked", "An administrator looked into it and marked it failed"),
    ],
)
def test_a_failed_submission_says_which_cause_it_was(client, alice, team_a, cause, told):
    submission = SubmissionFactory(
        team=team_a, submitter=alice, status=Status.QUEUED, attempts=5,
        error_message="Unsupported format.",
    )  # fmt: skip
    Event.objects.create(
        submission=submission, kind=Event.Kind.REFUSED, from_status=Status.QUEUED,
        to_status=Status.FAILED, data={"cause": cause},
    )  # fmt: skip
    Submission.objects.filter(pk=submission.pk).update(status=Status.FAILED)
    client.force_login(alice)
    page = client.get(submission.get_absolute_url()).content.decode()
    assert told in page
    assert "Either the link" not in page


def test_a_member_is_told_what_happens_to_a_submission_that_needs_review(client, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.NEEDS_REVIEW)
    client.force_login(alice)
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "nothing for now" not in page
    assert "An administrator checks whether memories.ai has it, then sends it again" in page


def test_after_submitting_the_message_says_nothing_that_will_stop_being_true(
    client, alice, team_a, clip_url
):
    client.force_login(alice)
    response = client.post(reverse("submission_new"), {"team": team_a.pk, "url": clip_url})
    page = client.get(response["Location"]).content.decode()
    assert '<li class="message message-success">Submitted.</li>' in page
    # The waiting is said in the part of the page that changes with the status.
    body = page[page.index('id="submission-body"') :]
    assert "It waits for its turn to be sent to memories.ai." in body


# --- the list and Settings ---------------------------------------------------------------


def test_the_lists_help_line_names_the_persons_zone(client, alice, team_a):
    from uploads.models import PersonSettings

    PersonSettings.objects.create(user=alice, time_zone="Asia/Tokyo")
    client.force_login(alice)
    page = client.get(reverse("submission_list")).content.decode()
    assert "Dates are days in your time zone, Asia/Tokyo (" in page


def test_settings_says_when_no_email_can_reach_the_person(client, team_a):
    person = UserFactory(username="noemail", email="")
    Membership.objects.create(user=person, team=team_a)
    client.force_login(person)
    page = client.get(reverse("person_settings")).content.decode()
    assert "Your account has no email address, so none of these emails can reach you." in page
    person.email = "noemail@example.com"
    person.save()
    assert 'id="no-email"' not in client.get(reverse("person_settings")).content.decode()
