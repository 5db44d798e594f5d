"""The web app of `cuescore serve` (gradio): a thin caller of the library, like the CLI.

`web.jobs` and `web.workspace` use the library only; `web.form` generates the page's settings from
`Controls` and the engine catalog; `web.app` lays out the page and serves it.
"""
