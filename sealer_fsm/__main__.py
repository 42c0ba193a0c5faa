from sealer_fsm.cli import main

raise SystemExit(main())
