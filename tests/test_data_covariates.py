"""Customer covariate tables -> design matrices (clvmodels.data.covariates).

Expected values: the encoding rules of the module docstring (numeric as is, booleans 0/1,
categorical as reference-level dummies, as in regression and in CLVTools' static
covariates), written out by hand for small tables.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.covariates import covariate_matrix, encode_like
from clvmodels.errors import DataError

TABLE = pd.DataFrame(
    {
        "customer_id": ["3", "1", "2", "4"],  # CSV text, in another order than the data
        "loyalty_member": ["TRUE", "false", "true", "False"],
        "channel": ["web", "store", "app", "web"],
        "age": ["41", "23.5", "35", "60"],
    }
)


def test_numeric_boolean_and_categorical_columns_are_encoded_and_aligned_to_the_ids():
    cov = covariate_matrix(
        TABLE, np.array([1, 2, 3, 4]), ["loyalty_member", "channel", "age"], source_name="t.csv"
    )
    assert cov.names == ("loyalty_member", "channel[store]", "channel[web]", "age")
    assert cov.reference == {"channel": "app"}
    np.testing.assert_array_equal(
        cov.matrix,
        [
            [0.0, 1.0, 0.0, 23.5],  # customer 1: store
            [1.0, 0.0, 0.0, 35.0],  # customer 2: app (reference)
            [1.0, 0.0, 1.0, 41.0],  # customer 3: web
            [0.0, 0.0, 1.0, 60.0],
        ],
    )
    assert len(cov) == 4


def test_reference_level_can_be_chosen_and_typed_columns_are_used_as_they_are():
    typed = pd.DataFrame(
        {"customer_id": [10, 11, 12], "member": [True, False, True], "tier": ["a", "b", "c"]}
    )
    cov = covariate_matrix(
        typed, [12, 10, 11], ["member", "tier"], source_name="df", reference={"tier": "b"}
    )
    assert cov.names == ("member", "tier[a]", "tier[c]")
    np.testing.assert_array_equal(cov.matrix, [[1, 0, 1], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize(
    ("table", "columns", "options", "message"),
    [
        (TABLE, ["colour"], {}, "t.csv: no column 'colour'"),
        (TABLE.drop(columns="customer_id"), ["age"], {}, "no column 'customer_id'"),
        (TABLE.assign(customer_id=["1", "1", "2", "4"]), ["age"], {}, "customer 1 appears twice"),
        (TABLE[TABLE["customer_id"] != "4"], ["age"], {}, "1 customers have no row"),
        (TABLE.assign(age=["41", "", "35", "60"]), ["age"], {}, "'age' is missing for customer 1"),
        (TABLE.assign(age=["7", "7", "7", "7"]), ["age"], {}, "single value 7"),
        (TABLE.assign(channel="web"), ["channel"], {}, "single level 'web'"),
        (TABLE, ["channel"], {"reference": {"channel": "mail"}}, "'mail' of column 'channel'"),
        (TABLE, ["age"], {"reference": {"channel": "web"}}, "given for 'channel'"),
        (TABLE, ["age", "age"], {}, "listed twice"),
        (TABLE.assign(age=["1", "inf", "2", "3"]), ["age"], {}, "not finite"),
        (TABLE, [], {}, "no covariate columns"),
    ],
)
def test_bad_tables_get_one_line_errors_naming_table_column_and_customer(
    table, columns, options, message
):
    with pytest.raises(DataError, match=message.replace("[", r"\[")) as info:
        covariate_matrix(table, [1, 2, 3, 4], columns, source_name="t.csv", **options)
    assert "\n" not in str(info.value)


def test_new_customers_are_encoded_like_the_fit_even_when_a_level_is_absent():
    """Scoring customers with a saved model needs the fit's design columns: the same
    dummies and reference level, whatever levels the new customers happen to have."""
    fitted = covariate_matrix(
        TABLE, [1, 2, 3, 4], ["loyalty_member", "channel", "age"], source_name="t.csv"
    )
    encoding = json.loads(json.dumps(fitted.encoding()))  # as stored in a model file
    new = pd.DataFrame(
        {
            "customer_id": [7, 8],
            "loyalty_member": [True, False],
            "channel": ["web", "web"],
            "age": [30.0, 44.0],
        }
    )
    again = encode_like(encoding, new, [8, 7], source_name="new.csv")
    assert again.names == fitted.names
    np.testing.assert_array_equal(again.matrix, [[0, 0, 1, 44], [1, 0, 1, 30]])
    same = encode_like(encoding, TABLE, [1, 2, 3, 4], source_name="t.csv")
    np.testing.assert_array_equal(same.matrix, fitted.matrix)
    with pytest.raises(DataError, match="level 'mail' of column 'channel' was not in the fitted"):
        encode_like(encoding, new.assign(channel=["web", "mail"]), [7, 8], source_name="n")
    with pytest.raises(DataError, match="'loyalty_member' must be true or false"):
        encode_like(encoding, new.assign(loyalty_member=["yes", "no"]), [7, 8], source_name="n")
    with pytest.raises(DataError, match="n: no column 'age'"):
        encode_like(encoding, new.drop(columns="age"), [7, 8], source_name="n")
