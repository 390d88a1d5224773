"""The API's endpoints: thin views over the pages' forms and services.

Each reads the request, checks access through uploads/selectors.py (404 for what
another team owns, never 403), calls the same form and service as its page, and
answers JSON; every error is problem+json (errors.py).
"""

import base64
import binascii
import json
from datetime import datetime
from urllib.parse import urlencode

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import dates, services, submitting
from ..batches import service as batches
from ..batches.forms import SHARED, BatchForm
from ..filters import SubmissionFilterForm
from ..forms import SubmissionForm
from ..models import TransitionError
from ..selectors import (
    get_batch_for_user,
    get_batch_to_change,
    get_submission_for_user,
    get_submission_to_change,
    manages,
    teams_of,
    teams_with_roles,
    visible_submissions,
    with_places,
)
from . import serializers as s
from .errors import Conflict, form_errors, invalid, problem
from .idempotency import respond_once
from .parsers import ChunkedRequest, CSVParser, LimitedJSONParser

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 500
ROWS_PER_PAGE = 1000
# Fields of a submission request besides the form's.
SUBMISSION_FIELDS = set(SubmissionForm.base_fields)
BATCH_FIELDS = {"rows", *SHARED, "confirm", "confirm_public", "send_again"}
BATCH_FLAGS = ("confirm", "confirm_public", "send_again")
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A retry with the same key (within 24 h) gets the first answer.",
)


class ApiView(APIView):
    """REST framework's view, reading chunked bodies too (parsers.ChunkedRequest)."""

    def initialize_request(self, request, *args, **kwargs):
        return ChunkedRequest(
            request,
            parsers=self.get_parsers(),
            authenticators=self.get_authenticators(),
            negotiator=self.get_content_negotiator(),
            parser_context=self.get_parser_context(request),
        )


def as_form_text(value):
    """A JSON value as a form field's text (the forms parse text, as from a page)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(as_form_text(item) for item in value)
    return str(value)


def _object(data, known, shape):
    """The body as a dict of known fields, each of the JSON type its field in `shape` (a
    request serializer) takes; a 400 problem otherwise."""
    if not isinstance(data, dict):
        return invalid({"__all__": ["The body must be a JSON object."]})
    unknown = sorted(set(data) - known)
    if unknown:
        return invalid({name: ["Unknown field."] for name in unknown})
    errors = s.type_errors(shape, data)
    return invalid(errors) if errors else data


def _team_as_choice(data, teams):
    """The team named by slug (or number) as the forms' choice (its number)."""
    team = data.get("team")
    by_slug = {t.slug: t for t in teams}
    if isinstance(team, str) and team in by_slug:
        data["team"] = str(by_slug[team].pk)
    return data


class Me(ApiView):
    @extend_schema(responses=s.MeSerializer, summary="Who the token acts for")
    def get(self, request):
        return Response(
            {
                "id": request.user.pk,
                "username": request.user.get_username(),
                "teams": s.TeamSerializer(teams_with_roles(request.user), many=True).data,
                "token": s.TokenInfoSerializer(request.auth).data,
            }
        )


class Teams(ApiView):
    @extend_schema(responses=s.TeamSerializer(many=True), summary="Your teams")
    def get(self, request):
        return Response(s.TeamSerializer(teams_with_roles(request.user), many=True).data)


class Submissions(ApiView):
    counted_in_create = ("POST",)  # throttling.count_create, in respond_once

    @extend_schema(
        parameters=[s.SubmissionQuery],
        responses=s.SubmissionPageSerializer,
        operation_id="submissions_list",
        summary="List submissions (the list page's filters), newest first",
    )
    def get(self, request):
        query = request.query_params
        form = SubmissionFilterForm(query, user=request.user)
        if form.names_the_unknown():
            raise Http404("No such team or person in your teams.")
        errors = form_errors(form) if not form.is_valid() else {}
        sort = query.get("sort") or "-date"
        if sort not in s.DATE_SORTS:
            errors["sort"] = ["The API lists by date: “-date” (newest first) or “date”."]
        size = _page_size(query.get("page_size"), errors)
        after = _cursor(query.get("cursor"), errors)
        if errors:
            return invalid(errors)
        submissions = form.filter(
            visible_submissions(request.user).select_related("team", "submitter")
        ).order_by(*s.DATE_SORTS[sort])
        if after:
            at, pk = after
            newer = sort == "date"
            submissions = submissions.filter(
                Q(created_at__gt=at) | Q(created_at=at, pk__gt=pk)
                if newer
                else Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk)
            )
        page = list(submissions[: size + 1])
        more, page = len(page) > size, with_places(page[:size])
        next_url = None
        if more:
            last = page[-1]
            cursor = _encode_cursor(last.created_at, last.pk)
            next_url = request.build_absolute_uri(
                request.path + "?" + urlencode({**query.dict(), "cursor": cursor})
            )
        return Response({"results": s.SubmissionSerializer(page, many=True).data, "next": next_url})

    @extend_schema(
        request=s.SubmissionRequest,
        responses={201: s.SubmissionSerializer},
        parameters=[IDEMPOTENCY],
        summary="Submit a URL (the form's rules and messages)",
    )
    def post(self, request):
        def prepare():
            data = _object(request.data, SUBMISSION_FIELDS, s.SubmissionRequest)
            if isinstance(data, Response):
                return data
            teams = list(teams_of(request.user))
            text = {name: as_form_text(value) for name, value in data.items()}
            form = SubmissionForm(_team_as_choice(text, teams), user=request.user, teams=teams)
            if not submitting.ready_to_submit(form, for_api=True):
                return invalid(form_errors(form), _general(form))
            return form.cleaned_data

        def make(cleaned, last_write):
            try:
                return services.submit(request.user, cleaned, last_write=last_write)
            except services.Refused as exc:
                return invalid({"__all__": [str(exc)]}, str(exc))

        return respond_once(request, prepare, make, lambda made: _created(request, made))


def _general(form):
    general = form.non_field_errors()
    return " ".join(general) if general else "The request has errors: see `errors`."


def _created(request, submission):
    """201 with the new submission. Its place and estimated send time are left out (null):
    working them out costs more than making it (bench_api.py); its detail gives them."""
    body = s.submission_body(submission)
    url = reverse("api:submission", args=[submission.pk])
    return Response(body, status=201, headers={"Location": request.build_absolute_uri(url)})


def _whole_number(value, low, high):
    """The text as a whole number from low to high, or None."""
    try:
        number = int(value)
    except ValueError:
        return None
    return number if low <= number <= high else None


def _page_size(value, errors):
    if value in (None, ""):
        return DEFAULT_PAGE_SIZE
    size = _whole_number(value, 1, MAX_PAGE_SIZE)
    if size is None:
        errors["page_size"] = [f"A number from 1 to {MAX_PAGE_SIZE}."]
    return size or DEFAULT_PAGE_SIZE


def _encode_cursor(at, pk):
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), pk]).encode()).decode()


def _cursor(value, errors):
    """(created_at, id) after which the page starts, from a `next` link's cursor."""
    if not value:
        return None
    try:
        at, pk = json.loads(base64.urlsafe_b64decode(value.encode()))
        moment = datetime.fromisoformat(at)
        if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
            raise ValueError
        # Its date checked before the database converts it to UTC (year 1 east of UTC has none).
        if moment.tzinfo is None or not dates.in_range(moment):
            raise ValueError
    except (ValueError, TypeError, RecursionError, binascii.Error, UnicodeError):
        errors["cursor"] = ["Not a cursor of ours: use the `next` link as given."]
        return None
    return moment, pk


class SubmissionDetail(ApiView):
    @extend_schema(responses=s.SubmissionDetailSerializer, summary="A submission and its timeline")
    def get(self, request, pk):
        submission = get_submission_for_user(request.user, pk)
        with_places([submission])
        return Response(s.SubmissionDetailSerializer(submission).data)


class SubmissionCancel(ApiView):
    @extend_schema(
        request=None, responses=s.SubmissionDetailSerializer, summary="Cancel a waiting submission"
    )
    def post(self, request, pk):
        submission = get_submission_to_change(request.user, pk)
        if submission.submitter_id != request.user.pk and not manages(
            request.user, submission.team_id
        ):
            return problem(
                403, "Only its submitter or a manager of its team can cancel a submission.",
                code="permission_denied",
            )  # fmt: skip
        try:
            services.cancel(request.user, submission)
        except TransitionError:
            raise Conflict("It is no longer waiting: it could not be cancelled.") from None
        submission = get_submission_for_user(request.user, pk)
        with_places([submission])
        return Response(s.SubmissionDetailSerializer(submission).data)


class Batches(ApiView):
    parser_classes = [LimitedJSONParser, CSVParser]
    counted_in_create = ("POST",)  # throttling.count_create, in respond_once

    @extend_schema(
        request={"application/json": s.BatchRequest, "text/csv": OpenApiTypes.BINARY},
        parameters=[
            IDEMPOTENCY,
            OpenApiParameter(
                "team",
                OpenApiTypes.STR,
                description="With a CSV body: "
                "the team of every row without its own, and the other shared "
                "values and flags of the JSON body, as query parameters.",
            ),
        ],
        responses={202: s.BatchSerializer},
        summary="Submit many: rows as JSON, or a CSV body (checked in the background)",
    )
    def post(self, request):
        def prepare():
            return _batch_form(request)

        def make(form, last_write):
            flags = form.api_flags
            return batches.create(
                request.user,
                rows=form.cleaned_data["rows"],
                source=form.cleaned_data["source"],
                shared=form.shared_values(),
                confirm_when_checked=flags["confirm"],
                confirm_public=flags["confirm_public"],
                send_again=flags["send_again"],
                last_write=last_write,
            )

        def answer(batch):
            url = reverse("api:batch", args=[batch.pk])
            return Response(
                _batch_body(request, batch, after=0),
                status=202,
                headers={"Location": request.build_absolute_uri(url)},
            )

        return respond_once(request, prepare, make, answer)


def _batch_form(request):
    """The Submit many form, with the rows of a JSON body or a CSV body."""
    teams = list(teams_of(request.user))
    if isinstance(request.data, bytes):  # text/csv
        given = request.query_params.dict()
        unknown = sorted(set(given) - BATCH_FIELDS)
        if unknown:
            return invalid({name: ["Unknown parameter."] for name in unknown})
        upload = SimpleUploadedFile("api.csv", request.data, content_type="text/csv")
        files, records = {"file": upload}, None
        flags = {name: given.pop(name, "").lower() in ("true", "1", "yes") for name in BATCH_FLAGS}
    else:
        given = _object(request.data, BATCH_FIELDS, s.BatchRequest)
        if isinstance(given, Response):
            return given
        given = dict(given)  # request.data stays as it came (the Idempotency-Key's record)
        rows = given.pop("rows", None)
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return invalid({"rows": ["A list of rows, each an object of the CSV's columns."]})
        errors = {}
        for index, row in enumerate(rows):
            errors.update(s.type_errors(s.BatchRowRequest, row, where=f"rows[{index}]."))
        if errors:
            return invalid(errors)
        files = None
        records = [{name: as_form_text(v) for name, v in row.items()} for row in rows]
        flags = {name: bool(given.pop(name, False)) for name in BATCH_FLAGS}
    text = {name: as_form_text(value) for name, value in given.items()}
    form = BatchForm(_team_as_choice(text, teams), files, user=request.user, records=records)
    if not form.is_valid():
        return invalid(form_errors(form), _general(form))
    form.api_flags = flags
    return form


def _batch_body(request, batch, after):
    rows = list(
        batch.rows.filter(line__gt=after)
        .select_related("team", "submission")
        .order_by("line")[: ROWS_PER_PAGE + 1]
    )
    more, rows = len(rows) > ROWS_PER_PAGE, rows[:ROWS_PER_PAGE]
    batch.counts = batches.row_counts(batch)
    batch.submission_counts = batches.submission_counts(batch) if batch.state == "queued" else None
    batch.rows_shown = rows
    batch.rows_next = None
    if more:
        url = reverse("api:batch", args=[batch.pk]) + f"?after_line={rows[-1].line}"
        batch.rows_next = request.build_absolute_uri(url)
    return s.BatchSerializer(batch).data


class BatchDetail(ApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter("after_line", OpenApiTypes.INT, description="Rows after this line.")
        ],
        responses=s.BatchSerializer,
        summary="A batch: counts and its rows' results",
    )
    def get(self, request, pk):
        batch = get_batch_for_user(request.user, pk)
        after = _whole_number(request.query_params.get("after_line", "0"), 0, 2**31 - 1)
        if after is None:
            return invalid({"after_line": ["A line number."]})
        return Response(_batch_body(request, batch, after))


class BatchConfirm(ApiView):
    @extend_schema(
        request=s.ConfirmRequest,
        responses=s.ConfirmedSerializer,
        summary="Queue a checked batch's ready rows",
    )
    def post(self, request, pk):
        batch = get_batch_to_change(request.user, pk)
        data = _object(request.data or {}, {"confirm_public", "send_again"}, s.ConfirmRequest)
        if isinstance(data, Response):
            return data
        flags = {name: value is True for name, value in data.items()}
        try:
            counts = batches.confirm(batch, request.user, **flags)
        except batches.NotConfirmable:
            raise Conflict("This batch is still being checked, or was queued already.") from None
        return Response(counts)


class NotFound(ApiView):
    """Any other path under /api/v1/: a problem+json 404, not the pages' HTML."""

    authentication_classes = permission_classes = throttle_classes = []
    parser_classes = [LimitedJSONParser]
    schema = None

    def get(self, request, rest):
        raise Http404("No such API endpoint. The endpoints are in /api/v1/openapi.json.")

    post = put = patch = delete = get
