"""What the settings say about routes, found once per org, module and route (the settings do
not change while a worker runs): which routes sync a module, the route back of a route, the
conflict policy both directions share, and the fields a record state keeps."""

from __future__ import annotations

from orgsync_kernel.settings import ModuleRoute, Route, Settings


class Routing:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.named = {route.name: route for route in settings.sync}
        # orgs whose records keep states (routes write into them) / that routes read
        self.targets = {route.target for route in settings.sync}
        self.sources = {route.source for route in settings.sync}
        self._routes: dict[tuple[str, str], list[Route]] = {}
        self._backs: dict[tuple[str, str], ModuleRoute | None] = {}
        self._kept: dict[tuple[str, str], frozenset[str] | None] = {}

    def routes(self, org: str, module: str) -> list[Route]:
        """The routes that sync `module` from `org`."""
        key = (org, module)
        found = self._routes.get(key)
        if found is None:
            routes = self.settings.routes_from(org)
            found = self._routes[key] = [r for r in routes if module in r.modules]
        return found

    def kept(self, org: str, module: str) -> frozenset[str] | None:
        """The fields of `org`'s `module` that a record state needs: those its routes read
        and those routes into it write (None: every field, when a route copies them all)."""
        key = (org, module)
        if key not in self._kept:
            self._kept[key] = self._fields(org, module)
        return self._kept[key]

    def _fields(self, org: str, module: str) -> frozenset[str] | None:
        names: set[str] = set()
        for route in self.settings.routes_from(org):
            mapping = route.modules.get(module)
            if mapping is not None:
                if mapping.fields is None:
                    return None
                names.update(mapping.fields)
        for route in self.settings.routes_into(org):
            source = route.source_module_for(module)
            if source is not None:
                mapping = route.modules[source]
                if mapping.fields is None:
                    return None
                names.update(mapping.target_field(n) for n in mapping.fields)
        return frozenset(names)

    def back(self, route: Route, module: str) -> ModuleRoute | None:
        """The module of the route back (`route`'s target to its source) that writes into
        `module` of `route`'s source, if there is one."""
        key = (route.name, module)
        if key not in self._backs:
            self._backs[key] = None
            for back in self.settings.routes_from(route.target):
                found = back.source_module_for(module) if back.target == route.source else None
                if found is not None:
                    self._backs[key] = back.modules[found]
                    break
        return self._backs[key]

    def copied_back(self, route: Route, module: str, names: list[str]) -> list[str]:
        """Those of `names` (fields of `route`'s target) that the route back copies as well."""
        back = self.back(route, module)
        if back is None:
            return []
        return sorted(n for n in names if back.fields is None or n in back.fields)

    def policy(self, route: Route, module: str) -> str:
        """The module's conflict policy on `route`, or the one its route back implies, so
        that both directions settle a conflict the same way (settings checks they agree)."""
        own = route.modules[module].conflict
        if own != "latest":
            return own
        back = self.back(route, module)
        implied = {"source_wins": "target_wins", "target_wins": "source_wins"}
        return "latest" if back is None else implied.get(back.conflict, "latest")
