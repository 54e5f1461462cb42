import { describe, expect, it } from "vitest";
import { suggestionWording } from "./identity";

describe("suggestion wording", () => {
  it("says a split moves aliases out and what each button does", () => {
    expect(suggestionWording("split", 2)).toEqual({
      what: "Split 2 aliases out of",
      confirm: "Split",
      reject: "Keep together",
    });
    expect(suggestionWording("split", 1).what).toBe("Split 1 alias out of");
  });

  it("keeps a merge's confirm and reject, also from a server that sends no kind", () => {
    expect(suggestionWording("merge", 0)).toEqual({ what: "Merge", confirm: "Confirm", reject: "Reject" });
    expect(suggestionWording(undefined, 0).confirm).toBe("Confirm");
  });
});
