"""GA4 default channel grouping: each rule, Google's rule order, nulls and placeholders."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from journeylake import channels as C
from journeylake.channels import default_channel_group

pytestmark = pytest.mark.unit

TRAFFIC_SCHEMA = T.StructType(
    [
        T.StructField("case", T.StringType(), False),
        T.StructField("source", T.StringType(), True),
        T.StructField("medium", T.StringType(), True),
        T.StructField("campaign", T.StringType(), True),
        T.StructField("gclid", T.StringType(), True),
        T.StructField("expected", T.StringType(), False),
    ]
)

CASES = [
    # (case, source, medium, campaign, gclid, expected)
    ("direct", "(direct)", "(none)", None, None, C.DIRECT),
    ("direct not set", "(direct)", "(not set)", None, None, C.DIRECT),
    ("direct with a real medium is not direct", "(direct)", "referral", None, None, C.REFERRAL),
    ("cross-network campaign", "google", "cpc", "Summer cross-network", None, C.CROSS_NETWORK),
    ("paid shopping by site", "amazon.com", "cpc", None, None, C.PAID_SHOPPING),
    ("paid shopping by campaign", "newsite", "paid", "shopping_q4", None, C.PAID_SHOPPING),
    ("paid search cpc", "google", "cpc", "brand", None, C.PAID_SEARCH),
    ("paid search ppc upper case", " Bing ", "PPC", None, None, C.PAID_SEARCH),
    ("paid search by gclid alone", None, None, None, "Cj0KCQ", C.PAID_SEARCH),
    ("gclid beats a placeholder source", "<Other>", "<Other>", None, "Cj0KCQ", C.PAID_SEARCH),
    ("placeholder gclid is no gclid", None, None, None, "(not set)", C.UNASSIGNED),
    ("blank gclid is no gclid", None, None, None, "  ", C.UNASSIGNED),
    ("paid social", "facebook.com", "paid_social", None, None, C.PAID_SOCIAL),
    ("paid video", "youtube.com", "cpv", None, None, C.PAID_VIDEO),
    ("display", "dv360", "display", None, None, C.DISPLAY),
    ("display cpm", "some-network", "cpm", None, None, C.DISPLAY),
    ("display banner", "some-network", "banner", None, None, C.DISPLAY),
    ("paid other", "some-network", "paid_native", None, None, C.PAID_OTHER),
    ("organic shopping", "ebay.com", "referral", None, None, C.ORGANIC_SHOPPING),
    ("organic social by site", "m.facebook.com", "referral", None, None, C.ORGANIC_SOCIAL),
    ("organic social by medium", "anything", "social", None, None, C.ORGANIC_SOCIAL),
    ("organic video", "creatoracademy.youtube.com", "referral", None, None, C.ORGANIC_VIDEO),
    ("organic search", "google", "organic", "(organic)", None, C.ORGANIC_SEARCH),
    ("organic search by engine domain", "yandex.ru", "referral", None, None, C.ORGANIC_SEARCH),
    ("organic search placeholder source", "<Other>", "organic", None, None, C.ORGANIC_SEARCH),
    ("google subdomain is a referral", "analytics.google.com", "referral", None, None, C.REFERRAL),
    ("shop domain is not a search engine", "shop.googlemerchandisestore.com", "referral", None, None, C.REFERRAL),
    ("referral", "9to5google.com", "referral", "(referral)", None, C.REFERRAL),
    ("email by medium", "Newsletter_December_2020", "email", None, None, C.EMAIL),
    ("email by source", "e-mail", "newsletter", None, None, C.EMAIL),
    ("affiliates", "Partners", "affiliate", None, None, C.AFFILIATES),
    ("audio", "spotify", "audio", None, None, C.AUDIO),
    ("sms", "sms", "text", None, None, C.SMS),
    ("mobile push", "app", "web-push", None, None, C.MOBILE_PUSH),
    ("data deleted", "(data deleted)", "(data deleted)", None, None, C.UNASSIGNED),
    ("obfuscated", "<Other>", "<Other>", "<Other>", None, C.UNASSIGNED),
    ("all null", None, None, None, None, C.UNASSIGNED),
    ("unknown medium", "partner-site", "weird", None, None, C.UNASSIGNED),
]


def test_every_rule_and_boundary(spark: SparkSession) -> None:
    df = spark.createDataFrame(CASES, TRAFFIC_SCHEMA)
    got = df.select(
        "case", "expected", default_channel_group(F.col("source"), F.col("medium"), F.col("campaign"), F.col("gclid"))
    ).collect()
    wrong = [(r["case"], r["expected"], r[2]) for r in got if r["expected"] != r[2]]
    assert wrong == []


def test_rule_table_follows_googles_order() -> None:
    names = [name for name, _ in C.CHANNEL_RULES]
    assert names[0] == C.DIRECT
    # Paid groups are checked before organic ones, so google/cpc is never Organic Search.
    assert names.index(C.PAID_SEARCH) < names.index(C.ORGANIC_SEARCH)
    assert names.index(C.DISPLAY) < names.index(C.PAID_OTHER) < names.index(C.ORGANIC_SHOPPING)
    assert names.index(C.REFERRAL) < names.index(C.EMAIL) < names.index(C.AFFILIATES)
    assert C.UNASSIGNED not in names  # the fall-through, not a rule
    assert len(set(names)) == len(names)


def test_never_null_for_any_input(spark: SparkSession) -> None:
    df = spark.createDataFrame(CASES, TRAFFIC_SCHEMA)
    channel = default_channel_group(F.col("source"), F.col("medium"), F.col("campaign"), F.col("gclid"))
    assert df.where(channel.isNull()).count() == 0
