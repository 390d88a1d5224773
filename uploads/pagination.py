"""A paginator for big selections: it stops counting at a cap, and sorts ids, not rows.

Django's Paginator runs COUNT(*) over the whole selection on every page; with
100,000 submissions that count costs more than the page itself. Here the
database counts at most `cap + 1` rows (COUNT over a LIMITed subquery): below
the cap everything is as usual; above it the page says "more than 500" and
"Next" stays available as long as a page has a next row.

A page's rows are chosen by sorting and slicing the ids alone, then fetched
whole by id (a "deferred join"): when no index gives the order, the database
sorts narrow rows instead of whole submissions with their team and submitter.
"""

from django.core.paginator import EmptyPage, Page, Paginator
from django.utils.functional import cached_property

COUNT_CAP = 500


class CappedPaginator(Paginator):
    def __init__(self, object_list, per_page, cap=COUNT_CAP):
        super().__init__(object_list, per_page)
        self.cap = cap

    @cached_property
    def count(self):
        # Without ORDER BY: the order changes nothing about how many rows there are.
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def capped(self):
        return self.count > self.cap

    def validate_number(self, number):
        try:
            return super().validate_number(number)
        except EmptyPage:
            # Past the counted pages there may be more: the page itself will tell.
            # (Below 2**31 pages, so that the offset stays a number the database takes.)
            if self.capped and 1 < int(number) < 2**31:
                return int(number)
            raise

    def rows(self, bottom, top):
        """Rows bottom..top-1 of the selection, in its order, chosen by id."""
        ids = self.object_list.values("pk")[bottom:top]
        return list(self.object_list.filter(pk__in=ids))

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if not self.capped:
            top = min(bottom + self.per_page, self.count)
            return Page(self.rows(bottom, top), number, self)
        rows = self.rows(bottom, bottom + self.per_page + 1)
        return CappedPage(rows[: self.per_page], number, self, has_more=len(rows) > self.per_page)


class CappedPage(Page):
    """A page of a capped selection: it knows whether a next page exists by its extra row."""

    def __init__(self, object_list, number, paginator, *, has_more):
        super().__init__(object_list, number, paginator)
        self.has_more = has_more

    def has_next(self):
        return self.has_more

    def end_index(self):
        return self.start_index() + len(self.object_list) - 1
