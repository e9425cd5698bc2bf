"""The former name of import_course, kept so existing scripts keep working."""

from __future__ import annotations

from lessons.management.commands.import_course import Command as ImportCommand


class Command(ImportCommand):
    help = "Same as import_course (its former name). " + ImportCommand.help
