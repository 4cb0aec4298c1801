from wikiart.cli import main

raise SystemExit(main())
