// Who is signed in, and on which tenant the portal acts.
import { createContext, useContext } from "react";
import type { Schemas } from "./api/client";

export interface PortalSession {
  session: Schemas["SessionReply"];
  /** the tenant the pages read (a platform admin picks one; others have theirs) */
  tenant: string | null;
  chooseTenant: (tenant: string | null) => void;
  /** the scope the Overview and Forecasts read: "workspace:<id>" */
  scope: string | null;
  chooseScope: (scope: string | null) => void;
}

export const SessionContext = createContext<PortalSession | null>(null);

export function usePortal(): PortalSession {
  const value = useContext(SessionContext);
  if (value === null) throw new Error("usePortal outside the signed-in layout");
  return value;
}
