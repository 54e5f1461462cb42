/** How the Developers page words a merge or split suggestion: a split moves aliases out of
 * one developer (an address that merged them turned out shared), so its buttons say what
 * confirming and rejecting do rather than "confirm" and "reject". */
export interface SuggestionWording {
  what: string;
  confirm: string;
  reject: string;
}

export function suggestionWording(kind: string | undefined, aliases: number): SuggestionWording {
  if (kind === "split") {
    return {
      what: `Split ${aliases} ${aliases === 1 ? "alias" : "aliases"} out of`,
      confirm: "Split",
      reject: "Keep together",
    };
  }
  return { what: "Merge", confirm: "Confirm", reject: "Reject" };
}
