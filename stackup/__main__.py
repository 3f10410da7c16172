from stackup.cli.main import main

raise SystemExit(main())
