"""Views by audience: `pages` for people, `callbacks` for memories.ai, `operations` for
operators. `access` holds the checks every view that shows something goes through."""
