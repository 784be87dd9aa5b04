"""HTTP routes: thin adapters from requests to the pipeline and back."""
