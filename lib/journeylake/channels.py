"""GA4 default channel grouping: (source, medium, campaign, gclid) to a channel name.

Follows Google's documented rules for the GA4 default channel group
(support.google.com/analytics/answer/9756891) as closely as is practical: the
rules are evaluated in Google's order and the first match wins. Google matches
sources against its own list of thousands of search, social, video and shopping
sites; here those lists are a short regex of the common sites (``*_SITES``).
Inputs are compared trimmed and lower-cased. Nulls and GA4 placeholders
(``(not set)``, ``<Other>``, ``(data deleted)``) never raise: they simply match
no rule and fall through to ``Unassigned`` unless another field decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from journeylake.placeholders import is_placeholder

DIRECT = "Direct"
CROSS_NETWORK = "Cross-network"
PAID_SHOPPING = "Paid Shopping"
PAID_SEARCH = "Paid Search"
PAID_SOCIAL = "Paid Social"
PAID_VIDEO = "Paid Video"
DISPLAY = "Display"
PAID_OTHER = "Paid Other"
ORGANIC_SHOPPING = "Organic Shopping"
ORGANIC_SOCIAL = "Organic Social"
ORGANIC_VIDEO = "Organic Video"
ORGANIC_SEARCH = "Organic Search"
REFERRAL = "Referral"
EMAIL = "Email"
AFFILIATES = "Affiliates"
AUDIO = "Audio"
SMS = "SMS"
MOBILE_PUSH = "Mobile Push Notifications"
UNASSIGNED = "Unassigned"

# Google: medium matches ^(.*cp.*|ppc|retargeting|paid.*)$ for every "Paid ..." group.
PAID_MEDIUM = r"^(.*cp.*|ppc|retargeting|paid.*)$"
# Google: campaign name matches this for the shopping groups.
SHOPPING_CAMPAIGN = r"^(.*(([^a-df-z]|^)shop|shopping).*)$"
# Short stand-ins for Google's site category lists: the bare name or the site's domain (any subdomain or TLD).
SEARCH_SITES = (
    r"^((www\.|[a-z]{2}\.)?(google|bing|baidu|duckduckgo|yandex|ecosia|ask|naver|seznam|qwant|startpage|yahoo)"
    r"(\.[a-z]{2,3}){0,2}|([a-z]{2}\.)?search\.yahoo\.com)$"
)
SOCIAL_SITES = (
    r"^((.*\.)?(facebook|instagram|linkedin|twitter|pinterest|reddit|tiktok|snapchat|quora)(\.[a-z]{2,3}){0,2}"
    r"|fb|ig|t\.co|x\.com|lnkd\.in)$"
)
VIDEO_SITES = r"^(.*\.)?(youtube|vimeo|twitch|dailymotion)(\.[a-z]{2,3}){0,2}$"
SHOPPING_SITES = r"^(.*\.)?(amazon|ebay|etsy|shopify|walmart|alibaba|aliexpress)(\.[a-z]{2,3}){0,2}$"
DIRECT_SOURCE = "(direct)"
DIRECT_MEDIUMS = ("(none)", "(not set)")
DISPLAY_MEDIUMS = ("display", "banner", "expandable", "interstitial", "cpm")
SOCIAL_MEDIUMS = ("social", "social-network", "social-media", "sm", "social network", "social media")
REFERRAL_MEDIUMS = ("referral", "app", "link")
EMAIL_VALUES = ("email", "e-mail", "e_mail", "e mail")
PUSH_MEDIUM = r"(^.*push$)|(mobile)|(notification)"


@dataclass(frozen=True)
class Traffic:
    """The normalized (trimmed, lower-cased) inputs every rule reads."""

    source: Column
    medium: Column
    campaign: Column
    has_gclid: Column


def _paid(t: Traffic) -> Column:
    return t.medium.rlike(PAID_MEDIUM)


ChannelRule = tuple[str, Callable[[Traffic], Column]]

# Google's order; the first matching rule names the channel. gclid: Google Ads auto-tagging, so a click id
# with no usable source/medium is Google Ads search traffic.
CHANNEL_RULES: tuple[ChannelRule, ...] = (
    (DIRECT, lambda t: (t.source == DIRECT_SOURCE) & t.medium.isin(*DIRECT_MEDIUMS)),
    (CROSS_NETWORK, lambda t: t.campaign.contains("cross-network")),
    (
        PAID_SHOPPING,
        lambda t: (t.source.rlike(SHOPPING_SITES) | t.campaign.rlike(SHOPPING_CAMPAIGN)) & _paid(t),
    ),
    (PAID_SEARCH, lambda t: (t.source.rlike(SEARCH_SITES) & _paid(t)) | t.has_gclid),
    (PAID_SOCIAL, lambda t: t.source.rlike(SOCIAL_SITES) & _paid(t)),
    (PAID_VIDEO, lambda t: t.source.rlike(VIDEO_SITES) & _paid(t)),
    (DISPLAY, lambda t: t.medium.isin(*DISPLAY_MEDIUMS)),
    (PAID_OTHER, _paid),
    (ORGANIC_SHOPPING, lambda t: t.source.rlike(SHOPPING_SITES) | t.campaign.rlike(SHOPPING_CAMPAIGN)),
    (ORGANIC_SOCIAL, lambda t: t.source.rlike(SOCIAL_SITES) | t.medium.isin(*SOCIAL_MEDIUMS)),
    (ORGANIC_VIDEO, lambda t: t.source.rlike(VIDEO_SITES) | t.medium.contains("video")),
    (ORGANIC_SEARCH, lambda t: t.source.rlike(SEARCH_SITES) | (t.medium == "organic")),
    (REFERRAL, lambda t: t.medium.isin(*REFERRAL_MEDIUMS)),
    (EMAIL, lambda t: t.source.isin(*EMAIL_VALUES) | t.medium.isin(*EMAIL_VALUES)),
    (AFFILIATES, lambda t: t.medium == "affiliate"),
    (AUDIO, lambda t: t.medium == "audio"),
    (SMS, lambda t: (t.source == "sms") | (t.medium == "sms")),
    (MOBILE_PUSH, lambda t: t.medium.rlike(PUSH_MEDIUM) | (t.source == "firebase")),
)


def _normalized(column: Column) -> Column:
    return F.lower(F.trim(column))


def default_channel_group(source: Column, medium: Column, campaign: Column, gclid: Column) -> Column:
    """The GA4 default channel group of one row's traffic fields; never null (``Unassigned`` at worst).

    Any argument may be null. A null, blank or placeholder gclid counts as absent.
    """
    traffic = Traffic(
        source=_normalized(source),
        medium=_normalized(medium),
        campaign=_normalized(campaign),
        has_gclid=~is_placeholder(gclid),
    )
    # A null condition (null input) is not a match in CASE WHEN, so nulls fall through to later rules.
    channel = F.when(CHANNEL_RULES[0][1](traffic), F.lit(CHANNEL_RULES[0][0]))
    for name, condition in CHANNEL_RULES[1:]:
        channel = channel.when(condition(traffic), F.lit(name))
    return channel.otherwise(F.lit(UNASSIGNED))
