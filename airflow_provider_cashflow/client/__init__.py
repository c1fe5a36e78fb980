"""The Airflow-free HTTP client: signing, transport, retries, rate limit, paging, page decoding."""
