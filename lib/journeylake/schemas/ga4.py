"""The Google Analytics 4 BigQuery export schema (``events_YYYYMMDD`` tables).

Declared once, as the public ``ga4_obfuscated_sample_ecommerce`` export stores it
in Parquet (``../shared/data/ga4/``). The generator writes this schema and the
ingest reader reads with it, so generated and real files take one code path.
Note the real export's quirks kept on purpose: ``user_properties`` fields are all
null and typed LONG, ``event_date`` is a ``YYYYMMDD`` string.
"""

from pyspark.sql import types as T

GA4_EXPORT_SCHEMA: T.StructType = T.StructType(
    [
        T.StructField("event_date", T.StringType()),
        T.StructField("event_timestamp", T.LongType()),
        T.StructField("event_name", T.StringType()),
        T.StructField(
            "event_params",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("key", T.StringType()),
                        T.StructField(
                            "value",
                            T.StructType(
                                [
                                    T.StructField("string_value", T.StringType()),
                                    T.StructField("int_value", T.LongType()),
                                    T.StructField("float_value", T.DoubleType()),
                                    T.StructField("double_value", T.DoubleType()),
                                ]
                            ),
                        ),
                    ]
                )
            ),
        ),
        T.StructField("event_previous_timestamp", T.LongType()),
        T.StructField("event_value_in_usd", T.DoubleType()),
        T.StructField("event_bundle_sequence_id", T.LongType()),
        T.StructField("event_server_timestamp_offset", T.LongType()),
        T.StructField("user_id", T.StringType()),
        T.StructField("user_pseudo_id", T.StringType()),
        T.StructField(
            "privacy_info",
            T.StructType(
                [
                    T.StructField("analytics_storage", T.LongType()),
                    T.StructField("ads_storage", T.LongType()),
                    T.StructField("uses_transient_token", T.StringType()),
                ]
            ),
        ),
        T.StructField(
            "user_properties",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("key", T.LongType()),
                        T.StructField(
                            "value",
                            T.StructType(
                                [
                                    T.StructField("string_value", T.LongType()),
                                    T.StructField("int_value", T.LongType()),
                                    T.StructField("float_value", T.LongType()),
                                    T.StructField("double_value", T.LongType()),
                                    T.StructField("set_timestamp_micros", T.LongType()),
                                ]
                            ),
                        ),
                    ]
                )
            ),
        ),
        T.StructField("user_first_touch_timestamp", T.LongType()),
        T.StructField(
            "user_ltv",
            T.StructType(
                [
                    T.StructField("revenue", T.DoubleType()),
                    T.StructField("currency", T.StringType()),
                ]
            ),
        ),
        T.StructField(
            "device",
            T.StructType(
                [
                    T.StructField("category", T.StringType()),
                    T.StructField("mobile_brand_name", T.StringType()),
                    T.StructField("mobile_model_name", T.StringType()),
                    T.StructField("mobile_marketing_name", T.StringType()),
                    T.StructField("mobile_os_hardware_model", T.LongType()),
                    T.StructField("operating_system", T.StringType()),
                    T.StructField("operating_system_version", T.StringType()),
                    T.StructField("vendor_id", T.LongType()),
                    T.StructField("advertising_id", T.LongType()),
                    T.StructField("language", T.StringType()),
                    T.StructField("is_limited_ad_tracking", T.StringType()),
                    T.StructField("time_zone_offset_seconds", T.LongType()),
                    T.StructField(
                        "web_info",
                        T.StructType(
                            [
                                T.StructField("browser", T.StringType()),
                                T.StructField("browser_version", T.StringType()),
                            ]
                        ),
                    ),
                ]
            ),
        ),
        T.StructField(
            "geo",
            T.StructType(
                [
                    T.StructField("continent", T.StringType()),
                    T.StructField("sub_continent", T.StringType()),
                    T.StructField("country", T.StringType()),
                    T.StructField("region", T.StringType()),
                    T.StructField("city", T.StringType()),
                    T.StructField("metro", T.StringType()),
                ]
            ),
        ),
        T.StructField(
            "app_info",
            T.StructType(
                [
                    T.StructField("id", T.StringType()),
                    T.StructField("version", T.StringType()),
                    T.StructField("install_store", T.StringType()),
                    T.StructField("firebase_app_id", T.StringType()),
                    T.StructField("install_source", T.StringType()),
                ]
            ),
        ),
        T.StructField(
            "traffic_source",
            T.StructType(
                [
                    T.StructField("medium", T.StringType()),
                    T.StructField("name", T.StringType()),
                    T.StructField("source", T.StringType()),
                ]
            ),
        ),
        T.StructField("stream_id", T.LongType()),
        T.StructField("platform", T.StringType()),
        T.StructField(
            "event_dimensions",
            T.StructType(
                [
                    T.StructField("hostname", T.StringType()),
                ]
            ),
        ),
        T.StructField(
            "ecommerce",
            T.StructType(
                [
                    T.StructField("total_item_quantity", T.LongType()),
                    T.StructField("purchase_revenue_in_usd", T.DoubleType()),
                    T.StructField("purchase_revenue", T.DoubleType()),
                    T.StructField("refund_value_in_usd", T.DoubleType()),
                    T.StructField("refund_value", T.DoubleType()),
                    T.StructField("shipping_value_in_usd", T.DoubleType()),
                    T.StructField("shipping_value", T.DoubleType()),
                    T.StructField("tax_value_in_usd", T.DoubleType()),
                    T.StructField("tax_value", T.DoubleType()),
                    T.StructField("unique_items", T.LongType()),
                    T.StructField("transaction_id", T.StringType()),
                ]
            ),
        ),
        T.StructField(
            "items",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("item_id", T.StringType()),
                        T.StructField("item_name", T.StringType()),
                        T.StructField("item_brand", T.StringType()),
                        T.StructField("item_variant", T.StringType()),
                        T.StructField("item_category", T.StringType()),
                        T.StructField("item_category2", T.StringType()),
                        T.StructField("item_category3", T.StringType()),
                        T.StructField("item_category4", T.StringType()),
                        T.StructField("item_category5", T.StringType()),
                        T.StructField("price_in_usd", T.DoubleType()),
                        T.StructField("price", T.DoubleType()),
                        T.StructField("quantity", T.LongType()),
                        T.StructField("item_revenue_in_usd", T.DoubleType()),
                        T.StructField("item_revenue", T.DoubleType()),
                        T.StructField("item_refund_in_usd", T.DoubleType()),
                        T.StructField("item_refund", T.DoubleType()),
                        T.StructField("coupon", T.StringType()),
                        T.StructField("affiliation", T.StringType()),
                        T.StructField("location_id", T.StringType()),
                        T.StructField("item_list_id", T.StringType()),
                        T.StructField("item_list_name", T.StringType()),
                        T.StructField("item_list_index", T.StringType()),
                        T.StructField("promotion_id", T.StringType()),
                        T.StructField("promotion_name", T.StringType()),
                        T.StructField("creative_name", T.StringType()),
                        T.StructField("creative_slot", T.StringType()),
                    ]
                )
            ),
        ),
    ]
)
