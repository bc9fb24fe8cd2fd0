"""Every bound on what validate reads: a hostile file meets one of these, never the
machine's limits. Checked before parsing (bytes), while walking (pages, depth, objects)
and while decoding (inflated bytes, rendered pixels)."""

MAX_FILE_BYTES = 200 * 10**6  # no processor takes more than 50 MB; refuse before parsing
MAX_PAGES = 10_000  # processors cap at 100; a page tree larger than this is refused
MAX_TREE_DEPTH = 64  # real page trees are a few levels deep
MAX_NODES = 100_000  # objects walked from the trailer (a package has ~10 per page)
MAX_STREAM_OUT = 256 * 2**20  # bytes one Flate stream may inflate to
MAX_TOTAL_OUT = 1024 * 2**20  # bytes all Flate streams of a file may inflate to
MAX_MANIFEST_BYTES = 16 * 2**20
MAX_XMP_BYTES = 4 * 2**20
MAX_OTHER_FILTER_RAW = 64 * 2**10  # non-Flate streams we decode through qpdf at most
MAX_RENDER_PIXELS = 40_000_000  # one rendered page for OCR
MAX_THUMBNAILS = 200
