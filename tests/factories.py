from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from uploads.models import Event, Membership, Status, Submission, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Submission

    team = factory.SubFactory(TeamFactory)
    submitter = factory.SubFactory(UserFactory)
    url = factory.Sequence(lambda n: f"https://videos.example.com/clip-{n}.mp4")


STATUS_CYCLE = [
    Status.QUEUED,
    Status.PARSED,
    Status.FAILED,
    Status.PARSE_ERROR,
    Status.PROCESSING,
    Status.NEEDS_REVIEW,
    Status.PARSED,
    Status.CANCELLED,
    Status.SENDING,
]


def seed(n, team, people):
    """n submissions of every status (with events: the first carries n), from `people`."""
    now = timezone.now()
    submissions = []
    for i in range(n):
        status = STATUS_CYCLE[(i // len(people)) % len(STATUS_CYCLE)]
        created = now - timedelta(hours=7 * i)
        submission = SubmissionFactory(
            team=team,
            submitter=people[i % len(people)],
            status=status,
            created_at=created,
            finished_at=created + timedelta(minutes=3 + i) if status == Status.PARSED else None,
            error_message="Refused." if status == Status.FAILED else "",
            tags=["beach"],
        )
        submissions.append(submission)
    # The first one carries as many events as there are submissions.
    for i in range(n):
        submissions[0].events.create(kind=Event.Kind.NOTE, message=f"Note {i}", actor=people[0])
    return submissions


def bearer(user, scopes=("read", "submit"), **kwargs):
    """A new API token of `user`: the request headers that send it (Django test client)."""
    from uploads.models import ApiToken

    _, secret = ApiToken.issue(user, name="tests", scopes=scopes, **kwargs)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def submission_fields(team, url="https://videos.example.com/one.mp4", **changes):
    """What the submission form cleans for `services.submit`: a public URL and nothing else."""
    return {
        "team": team,
        "url": url,
        "datetime_taken": None,
        "camera_model": "",
        "latitude": None,
        "longitude": None,
        "tags": [],
        "retain_original_video": False,
        "video_transcription_prompt": "",
        "confirm_public": True,
        **changes,
    }
