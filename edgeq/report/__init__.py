"""``edgeq report``: a typed reader of an ``edgeq run`` folder (``folder``), one module per section
(``sections``), the document they build (``document``), its Markdown (``markdown``), and the page
(``page``: assembly, and the HTML through the template and stylesheet in ``templates/``)."""
