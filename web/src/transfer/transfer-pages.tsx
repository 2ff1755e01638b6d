import { Route, Switch } from 'wouter';
import { Missing } from '../shell/missing';
import { ImportWizard } from './import-wizard';

/** The transfer screens: one wouter <Switch> over their own addresses (nested under /import). */
export default function TransferPages() {
  return (
    <Switch>
      <Route path="/"><ImportWizard /></Route>
      <Route><Missing /></Route>
    </Switch>
  );
}
