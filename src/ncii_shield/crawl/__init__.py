"""Web collection: fetch pages and their images within limits into a standard WARC (`ncii-shield crawl`)."""
