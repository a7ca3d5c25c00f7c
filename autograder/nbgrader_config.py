"""nbgrader settings of the rightsize course.

Edit settings here. `rightsize course build` writes autograder/course/nbgrader_config.py, which
loads this file, so both `rightsize course ...` and the usual `nbgrader ...` commands (run inside
autograder/course) see the same settings. autograder/README.md walks through the whole workflow;
the comments below say which nbgrader trap each setting avoids.
"""

import os

import nbgrader
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

from rightsize.course.feedback import RedactHiddenTests
from rightsize.course.sanitize import TEMPLATE_DIR, SanitizeStudentContent
from rightsize.quiz.graded import CODE_STUB

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = "rightsize"

# Released answer cells read `None  # YOUR ANSWER HERE` instead of nbgrader's
# `raise NotImplementedError()`: the graded quiz puts solution regions inside parentheses, where
# a raise would be a syntax error (see rightsize/quiz/graded.py).
c.ClearSolutions.code_stub = {"python": CODE_STUB}

# A tests cell the student deleted is put back and graded; otherwise it would silently not count.
c.OverwriteCells.add_missing_cells = True

# Any stderr output in a tests cell scores 0, so a correct answer that raises a warning would get
# nothing: drop stderr outputs that are Python warnings ("...: UserWarning: ...") before grading.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"\b[A-Z]\w*Warning: "

# Seconds a single cell may run before it is interrupted (graded 0); `--timeout` overrides it.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True

# Keep huge outputs out of the gradebook and the feedback.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 100

# Never strip cell metadata during autograde: without nbgrader's metadata every score is 0.
c.ClearMetadataPreprocessor.enabled = False

# Feedback shows the visible checks only: hidden tests are replaced by a short note (the generated
# HTML is checked for leaks by `rightsize course feedback`). Everything a student's notebook made is
# sanitized, and the page template loads no script and forbids any (rightsize/course/sanitize.py).
c.GenerateFeedback.preprocessors = [GetGrades, RedactHiddenTests, SanitizeStudentContent, CSSHTMLHeaderPreprocessor]
c.HTMLExporter.template_name = "rightsize_feedback"
c.HTMLExporter.template_file = "feedback_page.html.j2"
c.HTMLExporter.extra_template_basedirs = [
    TEMPLATE_DIR,
    os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates"),
]

