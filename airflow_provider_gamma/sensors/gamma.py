# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
"""GammaGenerationSensor: waits for a generation that was started elsewhere."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_gamma import parameters, reconcile
from airflow_provider_gamma._compat import AirflowSensorTimeout, conf
from airflow_provider_gamma._signed_urls import without_signed_urls
from airflow_provider_gamma.connection import DEFAULT_CONN_ID
from airflow_provider_gamma.exceptions import GammaParameterError, error_from_event
from airflow_provider_gamma.hooks.gamma import GammaHook
from airflow_provider_gamma.operators.gamma import generation_failure
from airflow_provider_gamma.parameters import is_unresolved
from airflow_provider_gamma.protocol import Generation

if TYPE_CHECKING:
    from airflow.sdk import Context


class GammaGenerationSensor(BaseSensorOperator):
    """Wait until a Gamma generation completes and return it (Gamma's JSON, without the signed
    ``exportUrl``: the export operator asks Gamma for it) as the task's XCom.

    Use it after ``GammaGenerateOperator(wait_for_completion=False)``, or for a generation started
    outside Airflow. A failed generation fails the sensor with Gamma's message (or skips it with
    ``soft_fail``). Works in ``poke``, ``reschedule`` and deferrable mode; the deferrable mode uses the
    same trigger as the operator.

    :param generation_id: the generation to wait for. Templated, e.g.
        ``"{{ ti.xcom_pull('generate', key='generation_id') }}"``. A deck the generate task settled
        by search after its POST's answer was lost has no generation id: its XCom ``generation_id``
        is ``gamma:<gammaId>``, and the sensor returns that deck (already confirmed finished by the
        task) as soon as Gamma shows it, shaped like a completed generation with ``reconciled: True``.
    :param gamma_conn_id: the ``gamma`` connection.
    :param deferrable: wait in the triggerer. Default: ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = ("generation_id", "gamma_conn_id")

    def __init__(
        self,
        *,
        generation_id: str,
        gamma_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float | timedelta = 5.0,
        **kwargs: Any,
    ) -> None:
        parameters.seconds(poke_interval, "poke_interval", maximum=parameters.MAX_POLL_INTERVAL)
        if "timeout" in kwargs:
            parameters.seconds(kwargs["timeout"], "timeout", allow_zero=True)
        super().__init__(poke_interval=poke_interval, **kwargs)
        if not is_unresolved(generation_id) and (
            not isinstance(generation_id, str) or not generation_id.strip()
        ):
            raise GammaParameterError(
                f"Invalid Gamma parameter generation_id={generation_id!r}: must be a non-empty string (a "
                "generation id), or a template or XComArg that renders to one"
            )
        parameters.check_conn_id(gamma_conn_id)
        self.generation_id = generation_id
        self.gamma_conn_id = gamma_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> GammaHook:
        return GammaHook(self.gamma_conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        gamma_id = reconcile.referenced_gamma(self.generation_id)
        if gamma_id is not None:
            return PokeReturnValue(is_done=True, xcom_value=self._settled_deck(gamma_id))
        if str(self.generation_id).strip() in ("None", "null"):
            raise GammaParameterError(
                f"Invalid Gamma parameter generation_id={self.generation_id!r}: the upstream task pushed no "
                "generation id (an older provider's deck settled by search?); pass the gamma instead, "
                "generation_id='gamma:<gammaId>'"
            )
        generation = self.hook.get_generation(self.generation_id)
        self.log.info("Gamma generation %s is %s", self.generation_id, generation["status"])
        if generation["status"] == "failed":
            raise generation_failure(generation)
        done = generation["status"] == "completed"
        return PokeReturnValue(is_done=done, xcom_value=without_signed_urls(generation))

    def _settled_deck(self, gamma_id: str) -> Generation:
        """The deck a generate task found by its reference and confirmed finished: it exists (a 404
        fails the sensor), and is returned as that task returned it."""
        gamma = self.hook.get_gamma(gamma_id)
        self.log.info(
            "Gamma deck %s was settled by search after its POST's answer was lost, and confirmed "
            "finished by the generate task: %s",
            gamma_id,
            gamma.get("url", ""),
        )
        return cast(Generation, reconcile.reconciled_result({"id": gamma_id, "url": gamma.get("url")}))

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        from airflow_provider_gamma.triggers.gamma import GammaGenerationTrigger

        self.defer(
            trigger=GammaGenerationTrigger(
                generation_id=self.generation_id,
                gamma_conn_id=self.gamma_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                first_poll_delay=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + self.poke_interval + 120),
        )

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> Generation:
        """Resume after the trigger fired; ``soft_fail`` turns a failure into a skip."""
        from airflow_provider_gamma.triggers.gamma import checked_event

        event = checked_event(event, "GammaGenerationTrigger")
        generation: Generation | None = event.get("generation")
        if event["status"] == "success" and generation is not None:
            return without_signed_urls(generation)  # an older triggerer's event may still carry it
        if event["status"] == "failed" and generation is not None:
            raise generation_failure(generation)
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(event["message"])
        raise error_from_event(event, f"Watching generation {self.generation_id} failed: {event['message']}")
