"""The application form's 2D code: find it in a stand-scanner photo and validate the
application ID (申請書ID) it carries. The ID is personal data: it goes only to the operator."""

from edge.forms.application_id import ALLOWED_HOSTS, extract_application_id, is_application_id
from edge.forms.errors import FormErrorCode, FormReadError
from edge.forms.reader import (
    form_result,
    form_result_bytes,
    read_application_id,
    read_application_id_bytes,
    read_application_id_file,
)

__all__ = [
    "ALLOWED_HOSTS",
    "FormErrorCode",
    "FormReadError",
    "extract_application_id",
    "form_result",
    "form_result_bytes",
    "is_application_id",
    "read_application_id",
    "read_application_id_bytes",
    "read_application_id_file",
]
